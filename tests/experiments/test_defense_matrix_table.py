import importlib.util
import math
from pathlib import Path

import pandas as pd
import pytest

SCRIPT = Path(__file__).parents[2] / "experiments" / "defense_matrix_table.py"
spec = importlib.util.spec_from_file_location("defense_matrix_table", SCRIPT)
defense_matrix_table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(defense_matrix_table)


def _row(attack, defense, utility_defended, under_attack):
    return {"group": f"supply_chain | {attack} | {defense}", "utility": 0.95,
            "utility_defended": utility_defended, "utility_under_attack": under_attack,
            "utility_drop": 0.95 - under_attack, "cost_multiplier": 1.0}  # fmt: skip


def test_prevented_share_compares_with_the_undefended_drop_of_the_same_base_attack():
    groups = pd.DataFrame([
        _row("ipm", "no defense", 0.95, 0.75),          # drop 0.20: the reference
        _row("ipm", "median", 0.94, 0.89),              # drop 0.05 of its own clean 0.94
        _row("ipm adaptive", "median", 0.94, 0.80),     # drop 0.14, judged against plain ipm
        _row("noise", "no defense", 0.95, 0.95),        # nothing to prevent
        _row("noise", "median", 0.94, 0.94),
    ])  # fmt: skip
    frame = defense_matrix_table.matrix(groups).set_index(["attack", "defense"])
    assert frame.loc[("ipm", "median"), "prevented"] == pytest.approx(0.75)
    assert frame.loc[("ipm adaptive", "median"), "prevented"] == pytest.approx(0.30)
    assert frame.loc[("ipm", "median"), "clean_cost"] == pytest.approx(0.01)
    assert math.isnan(frame.loc[("noise", "median"), "prevented"])
    text = defense_matrix_table.table(defense_matrix_table.matrix(groups))
    assert "| ipm | median |" in text and "| holds |" in text
    assert "| ipm adaptive | median |" in text and "| partial |" in text
    assert "(reference)" in text


def test_missing_report_is_a_one_line_error(tmp_path, capsys):
    assert defense_matrix_table.main([str(tmp_path)]) == 2
    assert "run the suite first" in capsys.readouterr().err
