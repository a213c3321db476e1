import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from forest.economy import make_economy
from forest.training.behaviour_cloning import train_forest
from forest.training.config import TrainConfig

SCRIPT = Path(__file__).parents[2] / "experiments" / "supply_chain_gap.py"
spec = importlib.util.spec_from_file_location("supply_chain_gap", SCRIPT)
supply_chain_gap = importlib.util.module_from_spec(spec)
spec.loader.exec_module(supply_chain_gap)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("gap_tiny")
    train_forest(TrainConfig.preset("tiny"), out)
    return out


def test_echelon_completions_weighted_by_headcount_give_the_task_completion():
    agents, rounds = 40, 7
    row = supply_chain_gap.completion_by_echelon(supply_chain_gap.expert, agents, rounds, 1)
    echelon = make_economy("supply_chain", 0, n_agents=agents).echelon
    weighted = sum(
        row["by_echelon"][name]["completion"] * np.mean(echelon == i)
        for i, name in enumerate(("supplier", "warehouse", "retailer"))
    )
    assert weighted == pytest.approx(row["task_completion"])
    assert all(len(cells["by_block"]) == 2 for cells in row["by_echelon"].values())


def test_the_report_compares_checkpoints_with_the_expert_and_its_safety_sweep(
    tiny_checkpoint, tmp_path, capsys
):
    argv = [str(tiny_checkpoint), "--agents", "30", "--rounds", "6", "--seeds", "1",
            "--safety-shares", "1.25,3", "--threads", "1", "--out", str(tmp_path)]  # fmt: skip
    assert supply_chain_gap.main(argv) == 0
    report = json.loads((tmp_path / "gap.json").read_text())
    assert set(report["policies"]) == {"expert", str(tiny_checkpoint)}
    assert set(report["expert_safety"]) == {
        "expert, safety share 1.25",
        "expert, safety share 3.0",
    }
    # The sweep at the default safety stock is the expert row itself: same seeds, same rule.
    assert report["expert_safety"]["expert, safety share 1.25"] == report["policies"]["expert"]
    assert "| expert | supplier |" in (tmp_path / "gap.md").read_text()
    assert "rounds 5-9" in capsys.readouterr().out


@pytest.mark.parametrize("shares", ["lots", "1.25,-1"])
def test_a_bad_safety_share_is_a_one_line_error(shares, tmp_path, capsys):
    argv = ["--agents", "30", "--rounds", "2", "--seeds", "1", "--safety-shares", shares,
            "--out", str(tmp_path)]  # fmt: skip
    assert supply_chain_gap.main(argv) == 2
    err = capsys.readouterr().err
    assert "safety" in err and len(err.strip().splitlines()) == 1
