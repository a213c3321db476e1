"""How far do the compromised agents' messages get? A suite run's message counts, per attack.

    python experiments/message_reach_table.py results/text-attacks-curve-sc1-read [--out FILE]

Reads the cells of a finished ``redteam run`` or ``redteam curve`` (``cells.csv`` in the folder
or in its ``grid/``), counted from each attack's start (``redteam.delivery``). Per group (an
economy, an attack at a share, a defense), over seeds:

- how many messages the compromised agents sent;
- the share of them the router delivered under attack, and the same agents' share in the clean
  twin, with the paired t interval over seeds of the difference (the attack's own effect on how
  the router treats their messages: which agents are compromised moves the share by itself);
- the honest agents' delivered share under attack, for scale;
- how many compromised messages the attacked rounds read, in their receivers' message slots
  (per seed): a text attack's words reach the forest through these alone.

Counts and shares are over the rounds from the attack's start, means over seeds where a column
holds one figure.
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
    "messages_read_compromised",
    "delivered_share_compromised",
    "delivered_share_compromised_twin",
    "delivered_share_honest",
)


def cells_file(run: Path) -> Path:
    for candidate in (run / "cells.csv", run / "grid" / "cells.csv"):
        if candidate.is_file():
            return candidate
    raise ValueError(f"no cells.csv in {run} or in its grid/ (is it a finished suite run?)")


def number(text: str) -> float:
    """A figure of cells.csv; the report writes NaN (a share of nothing) as an empty field."""
    return float(text) if text != "" else float("nan")


def read_cells(path: Path) -> dict[str, list[dict[str, float]]]:
    """Per group, one row of the message counts per cell, in seed order."""
    by_group: dict[str, list[dict[str, float]]] = defaultdict(list)
    with path.open() as f:
        for row in csv.DictReader(f):
            missing = [c for c in COLUMNS if c not in row]
            if missing:
                raise ValueError(
                    f"{path} has no {', '.join(missing)}: the run predates the message counts "
                    "(redteam/delivery.py); run the suite again into a new folder"
                )
            figures = {c: number(row[c]) for c in COLUMNS}
            by_group[row["group"]].append({"seed": int(row["seed"]), **figures})
    for rows in by_group.values():
        rows.sort(key=lambda r: r["seed"])
    return by_group


def escaped(text: str) -> str:
    """A cell's group ("economy | attack | defense") as one markdown table cell."""
    return text.replace("|", "\\|")


def table(by_group: dict[str, list[dict[str, float]]]) -> str:
    lines = [
        "| group | seeds | compromised messages sent | delivered: compromised | the same agents, "
        "twin | attack minus twin | delivered: honest | compromised messages read (per seed) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for group, rows in by_group.items():
        column = {c: np.array([r[c] for r in rows]) for c in COLUMNS}
        attacked, twin = (
            column["delivered_share_compromised"],
            column["delivered_share_compromised_twin"],
        )
        effect = paired_t_interval(attacked, twin)
        read = ", ".join(f"{x:.0f}" for x in column["messages_read_compromised"])
        lines.append(
            f"| {escaped(group)} | {len(rows)} "
            f"| {np.mean(column['messages_sent_compromised']):.0f} "
            f"| {np.mean(attacked):.1%} | {np.mean(twin):.1%} | {effect.short(3)} "
            f"| {np.mean(column['delivered_share_honest']):.1%} | {read} |"
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
