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
            {"group": "supply_chain | latent-pgd 1% | no defense", "seeds": 3,
             "harm": 0.5, "harm_low": 0.2, "harm_high": 0.8, "blast_radius_r10": 0.123,
             "rounds_to_50pct": float("nan"), "utility_drop": 0.0042},
            {"group": "supply_chain | latent-pgd 1% placebo | no defense", "seeds": 3,
             "harm": 0.1, "harm_low": -0.2, "harm_high": 0.4},
        ]
    )  # fmt: skip
    lines = propagation_table.table(groups).splitlines()
    assert lines[0].startswith("| economy | attack | compromised | seeds | harm [95% CI] | r10 |")
    row = lines[2]
    assert row.startswith("| supply_chain | latent-pgd | 1% | 3 | +0.500 [+0.200, +0.800] | 0.12 |")
    assert "| — |" in row  # never reached 50%
    assert row.endswith("| 0.004 |")
    assert lines[3].startswith("| supply_chain | latent-pgd (placebo) | 1% | 3 | +0.100 [")
    assert " ns |" in lines[3]  # the interval holds 0


def test_missing_report_is_a_one_line_error(tmp_path, capsys):
    assert propagation_table.main([str(tmp_path)]) == 2
    assert "run the suite first" in capsys.readouterr().err
