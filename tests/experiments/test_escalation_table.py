import importlib.util
from pathlib import Path

import pandas as pd
import pytest

SCRIPT = Path(__file__).parents[2] / "experiments" / "escalation_table.py"
spec = importlib.util.spec_from_file_location("escalation_table", SCRIPT)
escalation_table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(escalation_table)


def _cells(tmp_path: Path) -> Path:
    """Undefended harm 10, 12, 8; a robust target halves it, a useless one leaves it; the
    adaptive form meets the robust target only. Escalations cost the clean economy 1."""
    rows = []
    for seed, undefended in enumerate([10.0, 12.0, 8.0]):
        for attack, defense, harm in (
            ("pgd", "no defense", undefended),
            ("pgd", "robust", undefended / 2),
            ("pgd", "useless", undefended + (seed - 1) * 0.5),
            ("pgd adaptive", "robust", undefended / 2 + 1),
        ):
            escalates = defense != "no defense"
            rows.append({
                "group": f"supply_chain | {attack} | {defense}", "seed": seed, "harm": harm,
                "attack_success_rate": 1.0, "blast_radius_final": 0.5, "defense_clean_cost": 0.0,
                "welfare_twin": -30.0 - (1.0 if escalates else 0.0),
                "welfare_under_attack": -30.0 - (1.0 if escalates else 0.0) - harm,
                "escalation_rate": 0.5 if escalates else 0.0, "escalation_rate_clean": 0.0,
                "cost_multiplier": 2.0 if escalates else 1.0,
            })  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "cells.csv", index=False)
    return tmp_path


def test_the_table_states_the_prevented_share_the_loss_vs_clean_and_the_compute(tmp_path, capsys):
    assert escalation_table.main([str(_cells(tmp_path)), "--figure", str(tmp_path / "f.png")]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {tuple(c.strip() for c in line.split("|")[2:4]): line for line in lines[2:6]}
    robust = rows[("pgd", "robust")]
    assert "-5.00 [-7.48, -2.52]" in robust and "50% [25%, 75%]" in robust
    assert robust.rstrip(" |").endswith("holds")
    assert "2.00x" in robust and "0.50 / 0.00" in robust
    # The attacked, escalated economy lost the harm and the escalation's own welfare cost.
    assert "6.00 [" in robust
    assert rows[("pgd", "useless")].rstrip(" |").endswith("breaks")
    assert " ns" in rows[("pgd", "useless")]
    adaptive = rows[("pgd adaptive", "robust")]
    assert "| -4.00 [" in adaptive  # against the plain attack undefended
    assert (tmp_path / "f.png").stat().st_size > 5_000


@pytest.mark.parametrize("columns", [{}, {"harm": 1.0}])
def test_a_report_without_the_needed_columns_is_a_one_line_error(tmp_path, capsys, columns):
    if columns:
        pd.DataFrame([{"group": "a | b | c", "seed": 0, **columns}]).to_csv(
            tmp_path / "cells.csv", index=False
        )
    assert escalation_table.main([str(tmp_path)]) == 2
    assert "escalation_table:" in capsys.readouterr().err


def test_a_defended_cell_without_its_undefended_seed_reads_as_a_dash_not_a_crash(tmp_path, capsys):
    cells = pd.read_csv(_cells(tmp_path) / "cells.csv")
    cells = cells[~((cells["group"].str.endswith("no defense")) & (cells["seed"] == 2))]
    cells.to_csv(tmp_path / "cells.csv", index=False)
    assert escalation_table.main([str(tmp_path)]) == 0
    robust = next(line for line in capsys.readouterr().out.splitlines() if "| pgd | robust" in line)
    assert robust.rstrip(" |").endswith("—")
