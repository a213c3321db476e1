import importlib.util
from pathlib import Path

import pandas as pd

SCRIPT = Path(__file__).parents[2] / "experiments" / "defense_matrix_table.py"
spec = importlib.util.spec_from_file_location("defense_matrix_table", SCRIPT)
defense_matrix_table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(defense_matrix_table)


def _cells(tmp_path: Path) -> Path:
    rows = []
    for seed, (plain, shielded) in enumerate([(1.0, 0.1), (1.2, 0.2), (0.9, 0.1)]):
        for defense, harm, tpr in (("", plain, float("nan")), ("shield", shielded, 1.0),
                                   ("watch", plain, 1.0)):  # fmt: skip
            group = f"supply_chain | ipm | {defense or 'no defense'}"
            rows.append({"group": group, "seed": seed, "harm": harm, "attack_success_rate": 1.0,
                         "blast_radius_final": 0.5, "defense_clean_cost": 0.0,
                         "detection_tpr": tpr, "detection_fpr": 0.01, "detection_auc": 1.0,
                         "escalation_rate": 0.0})  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "cells.csv", index=False)
    return tmp_path


def test_the_table_says_holds_only_where_harm_fell_significantly(tmp_path, capsys):
    assert defense_matrix_table.main([str(_cells(tmp_path))]) == 0
    lines = capsys.readouterr().out.splitlines()[2:]
    verdicts = {line.split(" | ")[2]: line.split("|")[-2].strip() for line in lines}
    assert verdicts == {"shield": "holds", "watch": "breaks"}  # seeing is not preventing


def test_missing_report_is_a_one_line_error(tmp_path, capsys):
    assert defense_matrix_table.main([str(tmp_path)]) == 2
    assert "run the suite first" in capsys.readouterr().err
