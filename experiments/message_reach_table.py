"""How far do the compromised agents' messages get? A suite run's message counts, per attack.

    python experiments/message_reach_table.py results/text-attacks-curve-sc1 [--out FILE.md]

Reads the cells of a finished ``redteam run`` or ``redteam curve`` (``cells.csv`` in the folder
or in its ``grid/``). Per attack (and share), over seeds, from the attack's start: how many of
the compromised senders' messages the router delivered against the honest senders' share (a
paired t interval over seeds on their difference: below 0, the router filters the compromised
agents' messages more than the rest), and how many compromised messages the receivers read in
the whole episode (mean over seeds). A text attack's words reach a forest only through these.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from redteam.intervals import paired_t_interval

COLUMNS = (
    "messages_sent_compromised",
    "messages_delivered_compromised",
    "messages_read_compromised",
    "delivered_share_compromised",
    "delivered_share_honest",
)


def cells_file(run: Path) -> Path:
    for candidate in (run / "cells.csv", run / "grid" / "cells.csv"):
        if candidate.is_file():
            return candidate
    raise ValueError(f"no cells.csv in {run} or in its grid/ (is it a finished suite run?)")


def read_cells(path: Path) -> dict[str, list[dict[str, float]]]:
    """Per attack label, one row of the message counts per cell, in seed order."""
    by_attack: dict[str, list[dict[str, float]]] = defaultdict(list)
    with path.open() as f:
        for row in csv.DictReader(f):
            missing = [c for c in COLUMNS if c not in row]
            if missing:
                raise ValueError(
                    f"{path} has no {', '.join(missing)}: the run predates the message counts "
                    "(redteam/delivery.py); rerun it"
                )
            label = row["attack"] if row["defense"] == "no defense" else row["group"]
            by_attack[label].append(
                {"seed": int(row["seed"]), **{c: float(row[c]) for c in COLUMNS}}
            )
    for rows in by_attack.values():
        rows.sort(key=lambda r: r["seed"])
    return by_attack


def table(by_attack: dict[str, list[dict[str, float]]]) -> str:
    lines = [
        "| attack | seeds | compromised messages sent | delivered: compromised | delivered: honest "
        "| compromised minus honest | compromised messages read |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, rows in by_attack.items():
        column = {c: np.array([r[c] for r in rows]) for c in COLUMNS}
        gap = paired_t_interval(
            column["delivered_share_compromised"], column["delivered_share_honest"]
        )
        read = column["messages_read_compromised"]
        per_seed = ", ".join(f"{x:.0f}" for x in read)
        lines.append(
            f"| {label} | {len(rows)} | {np.mean(column['messages_sent_compromised']):.0f} "
            f"| {np.mean(column['delivered_share_compromised']):.1%} "
            f"| {np.mean(column['delivered_share_honest']):.1%} | {gap.short(3)} "
            f"| {np.mean(read):.1f} (per seed: {per_seed}) |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a finished suite run's output folder")
    parser.add_argument("--out", type=Path, help="also write the table here (markdown)")
    args = parser.parse_args(argv)
    try:
        text = table(read_cells(cells_file(args.run)))
    except ValueError as error:
        print(f"message_reach_table: error: {error}", file=sys.stderr)
        return 2
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
