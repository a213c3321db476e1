import argparse
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from redteam.intervals import PairedDifference

SCRIPT = Path(__file__).parents[2] / "experiments" / "pretrained_table.py"
spec = importlib.util.spec_from_file_location("pretrained_table", SCRIPT)
pretrained_table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pretrained_table)


def _gap(low: float, high: float) -> PairedDifference:
    return PairedDifference((low + high) / 2, low, high, 3, "paired t over seeds")


@pytest.mark.parametrize(
    ("completion", "welfare", "verdict"),
    [
        ((-0.04, -0.01), (-0.09, 0.02), "yes"),  # both intervals clear the bar
        ((-0.20, -0.10), (-0.05, 0.00), "no"),  # completion wholly past 5 points
        ((-0.04, -0.01), (-0.40, -0.20), "no"),  # welfare wholly past 10%
        ((-0.08, -0.01), (-0.05, 0.00), "unclear"),  # completion straddles the bar
        ((-0.04, -0.01), (-0.31, -0.06), "unclear"),  # welfare straddles the bar
        ((np.nan, np.nan), (-0.05, 0.00), "unclear"),  # one seed: no interval
    ],
)
def test_the_bar_verdict_is_judged_on_the_intervals_not_the_means(completion, welfare, verdict):
    assert pretrained_table.bar_verdict(_gap(*completion), _gap(*welfare)) == verdict


def _episode(completion: float, welfare: float) -> dict:
    return {"task_completion": completion, "welfare": welfare, "delivered_tokens": 50,
            "offered_tokens": 100, "seconds": 1.0}  # fmt: skip


def test_gaps_are_paired_with_the_expert_on_the_same_seed():
    """Seeds differ a lot between them but the forest trails the expert by exactly 0.02 and
    5% of welfare on each: a paired interval is then a point, an unpaired one would be wide."""
    expert = {0: _episode(0.9, -10.0), 1: _episode(0.5, -40.0), 2: _episode(0.7, -20.0)}
    forest = {s: _episode(e["task_completion"] - 0.02, e["welfare"] * 1.05)
              for s, e in expert.items()}  # fmt: skip
    rows = pretrained_table.gap_rows("supply_chain", {"expert": expert, "lora": forest}, [0, 1, 2])
    lora = next(r for r in rows if r["policy"] == "lora")
    assert lora["completion_gap"]["mean"] == pytest.approx(-0.02)
    assert lora["completion_gap"]["high"] - lora["completion_gap"]["low"] == pytest.approx(0.0)
    assert lora["welfare_gap_share"]["mean"] == pytest.approx(-0.05)
    assert lora["tokens_kept"] == pytest.approx(0.5)
    assert lora["within_bar"] == "yes"
    assert next(r for r in rows if r["policy"] == "expert")["within_bar"] == ""


def test_the_table_marks_a_gap_whose_interval_holds_zero_not_significant():
    rows = pretrained_table.gap_rows(
        "pricing",
        {"expert": {s: _episode(0.9, -10.0) for s in range(3)},
         "lora": {0: _episode(0.91, -10.0), 1: _episode(0.89, -10.0), 2: _episode(0.9, -10.0)}},
        [0, 1, 2],
    )  # fmt: skip
    args = argparse.Namespace(agents=8, rounds=3, seeds=3, first_seed=0)
    line = next(x for x in pretrained_table.markdown(rows, args).splitlines() if "| lora |" in x)
    assert "+0.000 [" in line and " ns |" in line


def test_a_rerun_reads_finished_episodes_instead_of_playing_them(tmp_path, monkeypatch):
    argv = ["--checkpoint", "checkpoints/small", "--agents", "8", "--rounds", "3", "--seeds",
            "2", "--economy", "pricing", "--out", str(tmp_path)]  # fmt: skip
    assert pretrained_table.main(argv) == 0
    episodes = sorted((tmp_path / "episodes").glob("*.json"))
    assert len(episodes) == 4  # expert and small, 2 seeds
    first = json.loads((tmp_path / "table.json").read_text())["rows"]

    def refuse(*_: object) -> dict:
        raise AssertionError("a finished episode was played again")

    monkeypatch.setattr(pretrained_table, "play_one", refuse)
    assert pretrained_table.main(argv) == 0
    assert json.loads((tmp_path / "table.json").read_text())["rows"] == first


def test_an_unknown_checkpoint_is_a_one_line_error(tmp_path, capsys):
    argv = ["--checkpoint", str(tmp_path / "nowhere"), "--out", str(tmp_path)]
    assert pretrained_table.main(argv) == 2
    assert "error:" in capsys.readouterr().out


def test_first_seed_plays_other_seeds_so_fits_can_be_chosen_off_the_reported_ones(
    tmp_path, monkeypatch
):
    played = []

    def record(who, policy, name, seed, agents, rounds):
        played.append(seed)
        return _episode(0.9, -10.0 - seed)

    monkeypatch.setattr(pretrained_table, "play_one", record)
    argv = ["--checkpoint", "checkpoints/small", "--agents", "8", "--rounds", "3", "--seeds",
            "2", "--first-seed", "5", "--economy", "pricing", "--out", str(tmp_path)]  # fmt: skip
    assert pretrained_table.main(argv) == 0
    assert sorted(played) == [5, 5, 6, 6]  # expert and small
    files = sorted(p.stem.rsplit("-", 1)[1] for p in (tmp_path / "episodes").glob("*.json"))
    assert files == ["seed5", "seed5", "seed6", "seed6"]
    assert "seeds 5-6;" in (tmp_path / "table.md").read_text()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--seeds", "0"], "--seeds must be at least 1"),
        (["--first-seed", "-1"], "--first-seed must be at least 0"),
        (["--first-seed", "9998"], "below 10,000"),  # 3 seeds reach the training episodes
        (["--also", "elsewhere/small"], "share a folder name"),
    ],
)
def test_a_bad_seed_range_or_a_clash_of_names_is_a_one_line_error(tmp_path, capsys, flags, message):
    argv = ["--checkpoint", "checkpoints/small", "--out", str(tmp_path), *flags]
    assert pretrained_table.main(argv) == 2
    out = " ".join(capsys.readouterr().out.split())  # rich wraps a long line at 80 columns
    assert out.startswith("error:") and out.count("error:") == 1 and message in out
    assert not (tmp_path / "episodes").exists()
