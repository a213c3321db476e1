import argparse
import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "experiments" / "forest_collusion.py"
spec = importlib.util.spec_from_file_location("forest_collusion", SCRIPT)
forest_collusion = importlib.util.module_from_spec(spec)
spec.loader.exec_module(forest_collusion)

SEEDS = [0, 1, 2]


def _figures(gain: list[float], punishment: list[float]) -> dict[int, dict[str, float]]:
    channel = dict.fromkeys(forest_collusion.CHANNEL, 0.0)
    return {
        s: {"price_level": g / 2, "profit_gain": g, "consumer_surplus": 0.7 - g / 10,
            "punishment": p, **channel}
        for s, g, p in zip(SEEDS, gain, punishment, strict=True)
    }  # fmt: skip


def _all_rows(**rows):
    placebo = _figures([0.10, 0.11, 0.12], [0.05, 0.05, 0.06])
    figures = {row: placebo for row in [*forest_collusion.ROWS, forest_collusion.CONTROL]}
    figures.update(rows)
    return figures


def test_the_label_needs_both_a_higher_profit_gain_and_more_punishment_than_the_clone():
    shared = "(a) shared latent"
    colluding = _all_rows(**{shared: _figures([0.60, 0.70, 0.80], [0.40, 0.50, 0.45])})
    assert forest_collusion.label(colluding, shared, SEEDS) == "collusive"
    # High prices without punishing a deviation: a cartel's objective, not its strategy.
    high = _all_rows(**{shared: _figures([0.60, 0.70, 0.80], [0.0, 0.0, 0.0])})
    assert forest_collusion.label(high, shared, SEEDS) == "not collusive"
    # Following a price cut as much as an honest best responder does is not punishment.
    following = _all_rows(**{shared: _figures([0.60, 0.70, 0.80], [0.05, 0.06, 0.05])})
    assert forest_collusion.label(following, shared, SEEDS) == "not collusive"


def test_tables_state_the_intervals_the_paired_differences_and_the_label():
    shared = "(a) shared latent"
    figures = _all_rows(**{shared: _figures([0.0, 0.01, 0.02], [0.0, 0.0, 0.0])})
    lines = forest_collusion.tables(figures, SEEDS).splitlines()
    row = next(line for line in lines if line.startswith(f"| {shared} |"))
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[2] == "0.010 [-0.015, 0.035] ns"  # Delta over 3 seeds, t interval
    assert cells[3] == "-0.100 [-0.100, -0.100]"  # against the clone, paired by seed
    assert cells[-1] == "not collusive"
    placebo = next(line for line in lines if line.startswith("| cloned forest"))
    assert [c.strip() for c in placebo.split("|")[1:-1]][3] == "—"  # no difference with itself


def test_one_out_folder_holds_one_set_of_settings(tmp_path):
    checkpoint = Path(__file__).parents[2] / "checkpoints" / "small"
    args = argparse.Namespace(iterations=30, markets=100, checkpoint=str(checkpoint),
                              out=str(tmp_path))  # fmt: skip
    forest_collusion.check_settings(args)
    forest_collusion.check_settings(args)  # the same settings resume
    with pytest.raises(SystemExit, match="other settings"):
        forest_collusion.check_settings(argparse.Namespace(**{**vars(args), "iterations": 5}))
