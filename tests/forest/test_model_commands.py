"""The model sub-commands end to end: train (tiny), eval, info, bench."""

import json

import pytest

from forest.cli import main
from forest.training.config import TrainConfig


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "tiny"
    assert main(["train", "--preset", "tiny", "--out", str(out)]) == 0
    return out


def test_train_refuses_to_overwrite_a_finished_forest_without_force(tiny_checkpoint, capsys):
    assert main(["train", "--preset", "tiny", "--out", str(tiny_checkpoint)]) == 2
    assert "--force" in capsys.readouterr().out


def test_eval_reports_forest_router_and_expert_per_economy(tiny_checkpoint, capsys):
    args = ["eval", str(tiny_checkpoint), "--agents", "60", "--rounds", "4", "--seeds", "1"]
    assert main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"supply_chain", "pricing", "exchange"}
    for row in out.values():
        assert 0.0 <= row["forest"]["task_completion"] <= 1.0
        assert 0.0 <= row["router_kept_share"] <= 1.0
        assert "task_completion" in row["expert"]


def test_eval_with_robust_pooling_reports_the_forest_next_to_the_same_experts(tiny_checkpoint,
                                                                             capsys):  # fmt: skip
    args = ["eval", str(tiny_checkpoint), "--economy", "exchange", "--agents", "60",
            "--rounds", "4", "--seeds", "1", "--json"]  # fmt: skip
    assert main(args) == 0
    plain = json.loads(capsys.readouterr().out)["exchange"]
    assert main([*args, "--robust-aggregation", "median"]) == 0
    median = json.loads(capsys.readouterr().out)["exchange"]
    assert median["expert"] == plain["expert"]  # same seeds, same experts
    assert 0.0 <= median["forest"]["task_completion"] <= 1.0
    with pytest.raises(SystemExit) as refused:  # argparse names the allowed methods
        main([*args, "--robust-aggregation", "mean"])
    assert refused.value.code == 2
    assert "invalid choice: 'mean'" in capsys.readouterr().err


def test_eval_of_a_missing_checkpoint_is_a_one_line_error(tmp_path, capsys):
    assert main(["eval", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("forest: error:") and len(err.strip().splitlines()) == 1


def test_eval_refuses_a_pickled_checkpoint(tmp_path, capsys):
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x04K\x01.")
    assert main(["eval", str(tmp_path)]) == 2
    assert "forest: error:" in capsys.readouterr().err


def test_info_of_the_3b_preset_reports_billions_of_parameters(capsys):
    assert main(["info", "llama-3.2-3b", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert 2.5e9 < facts["parameters"] < 3.5e9
    assert facts["flops_per_agent_round"] > 1e10


def test_info_of_small_shows_the_compressed_forest_is_cheaper_than_dense(capsys):
    assert main(["info", "small", "--agents", "1000", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["compressed_vs_dense_cost_cut"] > 0.6


def test_bench_measures_forest_and_dense_side_by_side(tiny_checkpoint, capsys):
    args = ["bench", "--checkpoint", str(tiny_checkpoint), "--agents", "40,80"]
    assert main([*args, "--dense-agents", "40", "--rounds", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    models = [(row["model"], row["agents"]) for row in out["rows"]]
    assert models == [("forest", 40), ("forest", 80), ("dense", 40)]
    assert all(row["median_ms"] > 0 and row["peak_rss_mb"] > 0 for row in out["rows"])
    assert "time(80)/time(40)" in out["ratios"]  # no 1000 in the run: against the smallest
    assert out["ratios"]["flops_cut_vs_dense@40"] > 0


@pytest.mark.parametrize("sizes", ["1000,abc", "0", "2000000"])
def test_bench_refuses_impossible_sizes(sizes, capsys):
    assert main(["bench", "--agents", sizes]) == 2
    assert "--agents" in capsys.readouterr().err


@pytest.mark.parametrize(("flag", "value"), [("--rounds", "0"), ("--warmup", "-1")])
def test_bench_refuses_impossible_round_counts(flag, value, capsys):
    assert main(["bench", "--agents", "100", flag, value]) == 2
    assert flag in capsys.readouterr().err


def test_bench_times_a_one_off_round_without_warm_up(tiny_checkpoint, capsys):
    args = ["bench", "--checkpoint", str(tiny_checkpoint), "--agents", "50", "--dense-agents", ""]
    assert main([*args, "--rounds", "1", "--warmup", "0", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["rows"]
    assert row["agents"] == 50 and row["median_ms"] == row["min_ms"] > 0


def test_tiny_training_preset_stays_small_enough_for_ci():
    tiny = TrainConfig.preset("tiny")
    assert tiny.n_agents * tiny.rounds * tiny.iterations <= 2000
