import csv
import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "experiments" / "message_reach_table.py"
spec = importlib.util.spec_from_file_location("message_reach_table", SCRIPT)
message_reach_table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(message_reach_table)


def write_cells(folder: Path, rows: list[dict]) -> None:
    (folder / "grid").mkdir()
    with (folder / "grid" / "cells.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def cell(attack: str, seed: int, attacked, twin, read, sent=100) -> dict:
    # As the report writes it: no defense is an empty field, and so is a NaN share.
    return {"group": f"supply_chain | {attack} | no defense", "attack": attack, "defense": "",
            "seed": seed, "messages_sent_compromised": sent, "messages_read_compromised": read,
            "delivered_share_compromised": attacked, "delivered_share_compromised_twin": twin,
            "delivered_share_honest": 0.05, "harm": 0.0}  # fmt: skip


def test_the_table_pairs_the_compromised_share_with_the_twins_and_gives_what_was_read(
    tmp_path, capsys
):
    write_cells(tmp_path, [
        cell("injection @ 0.1", 1, 0.02, 0.05, 3), cell("injection @ 0.1", 0, 0.01, 0.05, 1),
        cell("injection @ 0.1", 2, 0.03, 0.05, 5), cell("placebo @ 0.1", 0, "", "", 0, sent=0),
    ])  # fmt: skip
    assert message_reach_table.main([str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    # Seeds 0-2: 1%, 2%, 3% against 5% in the twin: -0.03 [-0.055, -0.005] (t over 3 seeds)
    assert lines[2] == (
        "| supply_chain \\| injection @ 0.1 \\| no defense | 3 | 100 | 2.0% | 5.0% "
        "| -0.030 [-0.055, -0.005] | 5.0% | 1, 3, 5 |"
    )
    # A group whose compromised agents sent nothing has no share, and says so.
    assert lines[3].startswith("| supply_chain \\| placebo @ 0.1 \\| no defense | 1 | 0 | nan% |")


@pytest.mark.parametrize("broken", ["no run", "old run"])
def test_a_folder_without_the_counts_is_a_one_line_error(tmp_path, capsys, broken):
    if broken == "old run":
        write_cells(tmp_path, [{"group": "g", "attack": "a", "defense": "", "seed": 0}])
    assert message_reach_table.main([str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("message_reach_table: error:") and error.count("\n") == 1
