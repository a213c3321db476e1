import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from forest.economy.rollout import evaluate_expert, summarize

SCRIPT = Path(__file__).parents[2] / "experiments" / "tune_supply_chain_expert.py"
spec = importlib.util.spec_from_file_location("tune_supply_chain_expert", SCRIPT)
tune_supply_chain_expert = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tune_supply_chain_expert)


def test_the_plain_experts_score_is_the_experts_own_task_completion():
    figures = tune_supply_chain_expert.score({}, agents=40, rounds=6, seeds=range(2))
    plain = summarize(evaluate_expert("supply_chain", seeds=2, rounds=6, n_agents=40))
    assert figures["task_completion"] == pytest.approx(plain["task_completion"][0])
    assert figures["holding_cost"] == pytest.approx(plain["holding_cost"][0])


def test_a_short_search_writes_tuned_fields_on_the_preset_grid_within_bounds(tmp_path, capsys):
    argv = ["--agents", "30", "--rounds", "6", "--seeds", "1", "--held-out", "1"]
    argv += ["--maxiter", "1", "--popsize", "1", "--out", str(tmp_path)]
    assert tune_supply_chain_expert.main(argv) == 0
    rows = json.loads((tmp_path / "tune.json").read_text())
    assert set(rows) == {"plain expert", "tuned", "tuned, rounded"}
    rounded = rows["tuned, rounded"]["fields"]
    values = np.array(
        [rounded[k] for k in ("echelon_safety_shares", "stock_correction", "trend_weight")]
    ).T.reshape(-1)
    low, high = np.array(tune_supply_chain_expert.BOUNDS).T
    assert np.all(values >= low - 0.05) and np.all(values <= high + 0.05)
    steps = values / tune_supply_chain_expert.GRID
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-6)
    fields = {k: tuple(v) for k, v in rounded.items()}
    rescored = tune_supply_chain_expert.score(fields, agents=30, rounds=6, seeds=range(1))
    assert rescored == pytest.approx(rows["tuned, rounded"]["search seeds"])
    assert "tune.json" in capsys.readouterr().out


def test_a_bad_argument_is_a_one_line_error(tmp_path, capsys):
    assert tune_supply_chain_expert.main(["--seeds", "0", "--out", str(tmp_path)]) == 2
    assert "seeds" in capsys.readouterr().err
