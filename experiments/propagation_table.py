"""The propagation study's README table and figure, from a finished `redteam run` of
experiments/suites/propagation.toml.

    python experiments/propagation_table.py results/propagation

prints the markdown table from the run's report folder (``groups.csv``: every figure is a mean
over seeds; harm with its t interval over seeds, "ns" where it holds 0; channel shares pooled
over seeds, "via" over infected agent-rounds, "new via" over new infections); with ``--figure
PATH`` it also draws every attack's infection curve at each compromised share, from the
per-round curves the cells logged to MLflow (``--tracking-uri``, default ./mlflow.db).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

COLUMNS = (
    ("blast_radius_r10", "r10"),
    ("blast_radius_r30", "r30"),
    ("rounds_to_50pct", "rounds to 50%"),
    ("infected_share_hop1", "hop 1"),
    ("infected_share_hop4plus", "hop 4+"),
    ("r0", "R0"),
    ("r0_unattributed_share", "no graph neighbour"),
    ("channel_attention", "via attention"),
    ("channel_messages", "via messages"),
    ("channel_either", "via either"),
    ("channel_state", "via state"),
    ("channel_new_attention", "new via attention"),
    ("channel_new_messages", "new via messages"),
    ("channel_new_state", "new via state"),
    ("utility_drop", "completion drop"),
)


def _fmt(value: float, digits: int = 2) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _harm(row: pd.Series) -> str:
    mean, low, high = row["harm"], row["harm_low"], row["harm_high"]
    if math.isnan(mean):
        return "—"
    if math.isnan(low):
        return f"{mean:+.3f}"
    held = " ns" if low <= 0 <= high else ""
    return f"{mean:+.3f} [{low:+.3f}, {high:+.3f}]{held}"


def _attack_and_share(label: str) -> tuple[str, str]:
    placebo = label.endswith(" placebo")
    attack, share = label.removesuffix(" placebo").rsplit(" ", 1)
    return (f"{attack} (placebo)" if placebo else attack), share


def table(groups: pd.DataFrame) -> str:
    head = ("| economy | attack | compromised | seeds | harm [95% CI] | "
            + " | ".join(h for _, h in COLUMNS) + " |")  # fmt: skip
    lines = [head, "|" + "---|" * (5 + len(COLUMNS))]
    for _, row in groups.iterrows():
        economy, label, _ = row["group"].split(" | ", 2)
        attack, share = _attack_and_share(label)
        cells = [_fmt(row.get(metric, float("nan")), 3 if "drop" in metric else 2)
                 for metric, _ in COLUMNS]  # fmt: skip
        lines.append(f"| {economy} | {attack} | {share} | {row['seeds']} | {_harm(row)} | "
                     + " | ".join(cells) + " |")  # fmt: skip
    return "\n".join(lines)


def figure(cells: list[dict], path: Path) -> None:
    economies = sorted({c["economy"] for c in cells}, key=lambda e: e != "supply_chain")
    fig, axes = plt.subplots(1, len(economies), figsize=(6.5 * len(economies), 4.6),
                             squeeze=False, layout="constrained")  # fmt: skip
    styles = {"0.1%": ":", "1%": "--", "5%": "-"}
    colours: dict[str, str] = {}
    for ax, economy in zip(axes[0], economies, strict=True):
        groups: dict[str, list[dict]] = {}
        for c in cells:
            if c["economy"] == economy:
                groups.setdefault(c["attack_label"], []).append(c)
        for label, members in groups.items():
            attack, share = _attack_and_share(label)
            colour = colours.setdefault(attack, f"C{len(colours)}")
            curve = np.mean([m["curves"]["infected_cumulative"] for m in members], axis=0)
            ax.plot(
                curve, color=colour, linestyle=styles.get(share, "-"), label=f"{attack} {share}"
            )
        ax.set_title(f"{economy}, 1,000 agents")
        ax.set_xlabel("round (attacks start at round 5)")
        ax.set_ylabel("honest agents infected so far (share)")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
    fig.suptitle("Propagation: compromised share 0.1% (dotted), 1% (dashed), 5% (solid)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report_dir", type=Path, help="the run's report folder")
    parser.add_argument("--figure", type=Path, help="also draw the infection curves here")
    parser.add_argument("--tracking-uri", help="MLflow store holding the cells (for --figure)")
    args = parser.parse_args(argv)
    groups_csv = args.report_dir / "groups.csv"
    if not groups_csv.is_file():
        print(f"propagation_table: error: no {groups_csv}; run the suite first", file=sys.stderr)
        return 2
    print(table(pd.read_csv(groups_csv)))
    if args.figure:
        from mlflow import MlflowClient

        from redteam.tracking import load_cell, tracking_uri

        client = MlflowClient(tracking_uri(args.tracking_uri))
        run_ids = json.loads((args.report_dir / "cells.json").read_text())
        cells = [json.loads(load_cell(client, run_id).to_json()) for run_id in run_ids]
        figure(cells, args.figure)
        print(f"\nfigure: {args.figure}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
