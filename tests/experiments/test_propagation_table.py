import importlib.util
from pathlib import Path

import pandas as pd

SCRIPT = Path(__file__).parents[2] / "experiments" / "propagation_table.py"
spec = importlib.util.spec_from_file_location("propagation_table", SCRIPT)
propagation_table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(propagation_table)


def test_table_splits_attack_and_share_and_marks_undefined_figures():
    groups = pd.DataFrame(
        [
            {"group": "supply_chain | latent-pgd 1% | no defense", "blast_radius_r5": 0.123,
             "rounds_to_50pct": float("nan"), "utility_drop": 0.0042},
        ]
    )  # fmt: skip
    lines = propagation_table.table(groups).splitlines()
    assert lines[0].startswith("| economy | attack | compromised | r5 |")
    row = lines[2]
    assert row.startswith("| supply_chain | latent-pgd | 1% | 0.12 |")
    assert "| — |" in row  # never reached 50%
    assert row.endswith("| 0.004 |")


def test_missing_report_is_a_one_line_error(tmp_path, capsys):
    assert propagation_table.main([str(tmp_path)]) == 2
    assert "run the suite first" in capsys.readouterr().err
