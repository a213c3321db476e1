"""``forest bench``'s efficiency, its opt-in bf16 comparison and its GPU switch.

Timings are measured by the benchmark, never asserted here: these tests check what the report
holds (keys, ranges, the identities between its figures) and how it refuses what cannot run.
"""

import json
import math

import pytest
import torch

from forest.cli import main

SMALL_RUN = ["bench", "--preset", "tiny", "--agents", "40", "--dense-agents", ""]
ONE_ROUND = ["--rounds", "1", "--warmup", "0"]


def test_every_row_reports_its_rate_against_a_matmul_of_the_same_dtype(capsys):
    assert main([*SMALL_RUN, "--rounds", "2", "--warmup", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (row,) = report["rows"]
    assert (row["dtype"], row["device"]) == ("fp32", "cpu")
    assert row["gflop_per_s"] == pytest.approx(row["gflops"] / (row["median_ms"] / 1000))
    assert row["efficiency"] == pytest.approx(row["gflop_per_s"] / row["matmul_gflop_per_s"])
    assert row["efficiency"] > 0 and row["matmul_gflop_per_s"] > 0
    assert row["speedup_vs_fp32"] is None and row["action_agreement"] is None
    assert row["peak_device_mb"] is None
    assert "play" not in report  # fp32 alone compares nothing


def test_the_table_shows_efficiency(capsys):
    assert main([*SMALL_RUN, *ONE_ROUND]) == 0
    out = capsys.readouterr().out
    assert "efficiency" in out and "GFLOP/s" in out


def test_bf16_is_measured_next_to_fp32_on_the_same_rounds(capsys):
    args = [*SMALL_RUN, *ONE_ROUND, "--dtype", "bf16", "--play-rounds", "2", "--play-seeds", "1"]
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    fp32, bf16 = report["rows"]
    assert (fp32["dtype"], bf16["dtype"]) == ("fp32", "bf16")
    assert bf16["gflops"] == fp32["gflops"]  # the same round, counted the same
    assert bf16["speedup_vs_fp32"] == pytest.approx(fp32["median_ms"] / bf16["median_ms"])
    assert 0.0 <= bf16["action_agreement"] <= 1.0
    assert bf16["efficiency"] > 0
    play = report["play"]
    assert {k: play[k] for k in ("economy", "agents", "rounds", "seeds")} == {
        "economy": "supply_chain",
        "agents": 40,
        "rounds": 2,
        "seeds": 1,
    }
    for name in ("fp32", "bf16"):
        assert 0.0 <= play[name]["task_completion"] <= 1.0
        assert math.isfinite(play[name]["welfare"])
    # the forest's time is not the ratios' business: they stay fp32's, keys as before
    assert all("bf16" not in key for key in report["ratios"])


@pytest.mark.parametrize(("flag", "value"), [("--play-rounds", "0"), ("--play-seeds", "0")])
def test_bench_refuses_empty_play(flag, value, capsys):
    assert main([*SMALL_RUN, "--dtype", "bf16", flag, value]) == 2
    assert flag in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_stops_with_one_line_and_exit_code_2(capsys):
    assert main([*SMALL_RUN, "--device", "cuda"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("forest: error: --device cuda:") and "no CUDA GPU" in line
