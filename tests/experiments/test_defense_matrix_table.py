import importlib.util
import math
from pathlib import Path

import pandas as pd
import pytest

SCRIPT = Path(__file__).parents[2] / "experiments" / "defense_matrix_table.py"
spec = importlib.util.spec_from_file_location("defense_matrix_table", SCRIPT)
defense_matrix_table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(defense_matrix_table)


def _row(attack, defense, asr, tpr=float("nan"), utility_defended=0.95, under_attack=0.9):
    return {"group": f"supply_chain | {attack} | {defense}", "utility": 0.95,
            "utility_defended": utility_defended, "utility_under_attack": under_attack,
            "attack_success_rate": asr, "detection_tpr_at_1pct_fpr": tpr,
            "cost_multiplier": 1.0}  # fmt: skip


def test_prevented_share_compares_with_the_undefended_success_of_the_same_base_attack():
    groups = pd.DataFrame([
        _row("pgd", "no defense", 0.8),                    # the reference
        _row("pgd", "median", 0.2, utility_defended=0.94),  # prevents 75%
        _row("pgd adaptive", "median", 0.56),               # 30%, judged against plain pgd
        _row("pgd", "detector", 0.8, tpr=0.9),              # stops nothing, sees everything
        _row("pgd adaptive", "detector", 0.8, tpr=0.05),    # evades it at no cost
        _row("noise", "no defense", 0.0),                   # nothing to prevent
        _row("noise", "median", 0.0),
        _row("pgd", "fallback", 0.8, tpr=1.0, under_attack=0.85),  # sees it, hurts more
    ])  # fmt: skip
    frame = defense_matrix_table.matrix(groups).set_index(["attack", "defense"])
    assert frame.loc[("pgd", "median"), "prevented"] == pytest.approx(0.75)
    assert frame.loc[("pgd adaptive", "median"), "prevented"] == pytest.approx(0.30)
    assert frame.loc[("pgd", "median"), "clean_cost"] == pytest.approx(0.01)
    assert math.isnan(frame.loc[("noise", "median"), "prevented"])
    text = defense_matrix_table.table(defense_matrix_table.matrix(groups))
    verdicts = {tuple(line.split(" | ")[:2]): line.split("|")[-2].strip()
                for line in text.splitlines()[2:]}  # fmt: skip
    assert verdicts[("| pgd", "median")] == "holds"
    assert verdicts[("| pgd adaptive", "median")] == "partial"
    assert verdicts[("| pgd", "detector")] == "holds"
    assert verdicts[("| pgd adaptive", "detector")] == "breaks"
    assert verdicts[("| noise", "median")] == "—"
    assert verdicts[("| pgd", "no defense")] == "(reference)"
    assert verdicts[("| pgd", "fallback")] == "worse"


def test_missing_report_is_a_one_line_error(tmp_path, capsys):
    assert defense_matrix_table.main([str(tmp_path)]) == 2
    assert "run the suite first" in capsys.readouterr().err
