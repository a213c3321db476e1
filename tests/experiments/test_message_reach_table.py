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


def cell(attack: str, seed: int, compromised: float, honest: float, read: float) -> dict:
    return {"group": f"supply_chain | {attack} | no defense", "attack": attack,
            "defense": "no defense", "seed": seed, "messages_sent_compromised": 100,
            "messages_delivered_compromised": 100 * compromised, "messages_read_compromised": read,
            "delivered_share_compromised": compromised, "delivered_share_honest": honest,
            "harm": 0.0}  # fmt: skip


def test_the_table_gives_the_delivered_shares_their_paired_gap_and_what_was_read(tmp_path, capsys):
    write_cells(tmp_path, [
        cell("injection @ 0.1", 1, 0.02, 0.05, 3), cell("injection @ 0.1", 0, 0.01, 0.05, 1),
        cell("injection @ 0.1", 2, 0.03, 0.05, 5), cell("placebo @ 0.1", 0, 0.05, 0.05, 4),
    ])  # fmt: skip
    assert message_reach_table.main([str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    # Seeds 0-2: compromised 1%, 2%, 3% against 5%: gap -0.03 [-0.055, -0.005] (t over 3 seeds)
    assert lines[2] == (
        "| injection @ 0.1 | 3 | 100 | 2.0% | 5.0% | -0.030 [-0.055, -0.005] "
        "| 3.0 (per seed: 1, 3, 5) |"
    )
    assert lines[3].startswith("| placebo @ 0.1 | 1 | 100 | 5.0% | 5.0% | 0.000 |")


@pytest.mark.parametrize("broken", ["no run", "old run"])
def test_a_folder_without_the_counts_is_a_one_line_error(tmp_path, capsys, broken):
    if broken == "old run":
        write_cells(tmp_path, [{"group": "g", "attack": "a", "defense": "no defense", "seed": 0}])
    assert message_reach_table.main([str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("message_reach_table: error:") and error.count("\n") == 1
