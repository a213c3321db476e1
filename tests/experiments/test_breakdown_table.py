import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "experiments" / "breakdown_table.py"
spec = importlib.util.spec_from_file_location("breakdown_table", SCRIPT)
breakdown_table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(breakdown_table)


def _point(share, mean, low, high):
    harm = {"mean": mean, "low": low, "high": high, "n": 3, "method": "t"}
    return {"share": share, "harm": harm, "welfare_twin": -40.0, "n_compromised": 1.0,
            "attack_compute_seconds": 12.0}  # fmt: skip


def test_table_gives_harm_per_share_and_the_breakdown_or_its_censoring():
    found = {"threshold_share_of_twin_welfare": 0.05, "curves": [
        {"group": "supply_chain | ipm | no defense",
         "breakdown": {"share": 0.1, "low": 0.05, "high": 0.5, "threshold": 2.0},
         "points": [_point(0.05, 1.0, -1.0, 3.0), _point(0.1, 4.0, 1.0, 7.0),
                    _point(0.5, 9.0, 6.0, 12.0)]},
        {"group": "supply_chain | noise | no defense",
         "breakdown": {"share": None, "low": None, "high": None, "threshold": 2.0},
         "points": [_point(0.05, 0.1, -1.0, 1.2), _point(0.5, 0.2, -1.0, 1.4)]},
    ]}  # fmt: skip
    lines = breakdown_table.table(found).splitlines()
    assert lines[0] == "| attack | 0.05 | 0.1 | 0.5 | breakdown (interval] | attacker s/cell |"
    assert lines[2] == ("| ipm | +1.00 [-1.00, +3.00] ns | +4.00 [+1.00, +7.00] | "
                        "+9.00 [+6.00, +12.00] | 0.1 (0.05, 0.5] | 12 |")  # fmt: skip
    assert "| noise | +0.10 [-1.00, +1.20] ns |  | " in lines[3]
    assert "> 0.5 (0, > 0.5]" in lines[3]
    assert lines[-1] == "Breakdown threshold: harm above 2 per round (5% of the twin's welfare)."


def test_a_folder_without_curves_is_a_one_line_error(tmp_path, capsys):
    assert breakdown_table.main([str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("breakdown_table: error:")


def test_under_defenses_each_row_names_its_defense_and_its_own_threshold():
    def curve(defense, threshold):
        return {"group": f"supply_chain | pgd | {defense}",
                "breakdown": {"share": 0.1, "low": 0.05, "high": 0.5, "threshold": threshold},
                "points": [_point(0.1, 4.0, 1.0, 7.0)]}  # fmt: skip

    found = {"threshold_share_of_twin_welfare": 0.05,
             "curves": [curve("no defense", 2.0), curve("quarantine", 1.5)]}  # fmt: skip
    lines = breakdown_table.table(found).splitlines()
    assert lines[0] == ("| attack | defense | threshold | 0.1 | breakdown (interval] | "
                        "attacker s/cell |")  # fmt: skip
    assert lines[3].startswith("| pgd | quarantine | 1.5 | +4.00 [+1.00, +7.00] |")
    assert "defended twin" in lines[-1]
