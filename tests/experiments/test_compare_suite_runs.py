"""Comparing two runs of a suite: identical figures pass whatever the wall-clock timings and
MLflow ids say; one figure off in its last bit fails, and is named."""

import importlib.util
from pathlib import Path

import pandas as pd

SCRIPT = Path(__file__).parents[2] / "experiments" / "compare_suite_runs.py"
spec = importlib.util.spec_from_file_location("compare_suite_runs", SCRIPT)
compare = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compare)


def run(folder: Path, harm: float, latency: float, wall: float) -> Path:
    folder.mkdir()
    pd.DataFrame({
        "group": ["a | x", "a | y"], "seed": [0, 0], "run_id": ["r1", "r2"],
        "harm": [harm, 2.0], "r0": [float("nan"), 1.0], "latency_ms": [latency, 3.0],
        "defense": [None, "mahalanobis"],  # "none" is written as an empty field
    }).to_csv(folder / "cells.csv", index=False)  # fmt: skip
    (folder / "wall_seconds").write_text(str(wall))
    return folder


def test_identical_figures_pass_and_the_speed_up_is_reported(tmp_path, capsys):
    before = run(tmp_path / "before", 0.1, 5.0, 300.0)
    after = run(tmp_path / "after", 0.1, 1.0, 100.0)
    assert compare.main([str(before), str(after)]) == 0
    out = capsys.readouterr().out
    assert "2 cells, 2 figures each: identical" in out and "3.00x faster" in out


def test_a_figure_off_in_its_last_bit_fails_and_is_named(tmp_path, capsys):
    before = run(tmp_path / "before", 0.1, 5.0, 300.0)
    after = run(tmp_path / "after", 0.1 + 2**-55, 5.0, 300.0)
    assert compare.main([str(before), str(after)]) == 1
    assert "a | x seed 0: harm 0.1 -> 0.10000000000000003" in capsys.readouterr().out
