"""The defense matrix's README table and cost-vs-robustness figure, from a finished
`redteam run` of experiments/suites/defense_matrix.toml.

    python experiments/defense_matrix_table.py results/defense_matrix [--figure PATH]

reads the run's ``cells.csv`` and prints a markdown table, one row per attack and defense:
what the defense changed against no defense, paired per seed with a t interval over seeds
(harm, attack success, blast radius; defended minus undefended, so negative is prevention;
"mean [95% CI]", "ns" where the interval holds 0),
its clean cost (welfare lost by the clean twin), what its detector flagged at the deployed,
calibrated threshold (TPR, FPR) with its ROC AUC, the escalation rate, the certified share
of decisions (under a certifiable robust pooling), and the verdict of
``redteam.verdicts``: *holds* only with a significant fall in harm, success or spread.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from redteam.verdicts import Verdict, verdicts

DETECTION = (
    ("detection_tpr", "TPR"),
    ("detection_fpr", "FPR"),
    ("detection_auc", "AUC"),
    ("escalation_rate", "escalated"),
    # Honest decisions of the defended twin no k compromised agents per tree can change (the
    # suite's ``certified_k``; "—" where the defense's pooling has no certificate).
    ("certified_share", "certified"),
)


def _mean(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.2f}"


def table(cells: pd.DataFrame, found: list[Verdict]) -> str:
    columns = ["economy", "attack", "defense", "harm change", "ASR change", "spread change",
               "clean cost", *(h for _, h in DETECTION), "verdict"]  # fmt: skip
    head = "| " + " | ".join(columns) + " |"
    lines = [head, "|" + "---|" * (8 + len(DETECTION))]
    means = cells.groupby("group").mean(numeric_only=True)
    for v in found:
        economy, attack = v.attack.split(" | ", 1)
        row = means.loc[f"{economy} | {attack} | {v.defense}"]
        changes = [v.changes[k].short(3) for k in ("harm", "attack_success_rate",
                                                     "blast_radius_final")]  # fmt: skip
        seen = [_mean(float(row.get(k, float("nan")))) for k, _ in DETECTION]
        cost = v.clean_cost.short(3)
        figures = " | ".join([*changes, cost, *seen, v.word])
        lines.append(f"| {economy} | {attack} | {v.defense} | {figures} |")
    return "\n".join(lines)


def figure(found: list[Verdict], path: Path) -> None:
    """Each defense's clean cost against the change in harm it makes (mean over the attacks
    it meets, with the seed-level intervals; adaptive attacks drawn apart)."""
    fig, ax = plt.subplots(figsize=(7.5, 5), layout="constrained")
    names = sorted({v.defense for v in found})
    for index, name in enumerate(names):
        for adaptive, marker in ((False, "o"), (True, "x")):
            mine = [v for v in found
                    if v.defense == name and v.attack.endswith("adaptive") == adaptive]  # fmt: skip
            if not mine:
                continue
            x = sum(v.clean_cost.mean for v in mine) / len(mine)
            y = sum(v.changes["harm"].mean for v in mine) / len(mine)
            label = f"{name} (adaptive attacks)" if adaptive else name
            ax.scatter(x, y, color=f"C{index}", marker=marker, s=70, label=label)
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.set_xlabel("clean cost: welfare the defense costs a clean forest")
    ax.set_ylabel("harm change against no defense (negative: prevented)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.suptitle("Defense matrix: cost against prevention")
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report_dir", type=Path, help="the run's report folder (results/NAME)")
    parser.add_argument("--figure", type=Path, help="also draw the cost-vs-prevention plot here")
    args = parser.parse_args(argv)
    cells_csv = args.report_dir / "cells.csv"
    if not cells_csv.is_file():
        print(f"defense_matrix_table: no {cells_csv}; run the suite first", file=sys.stderr)
        return 2
    cells = pd.read_csv(cells_csv)
    if "harm" not in cells:
        print(f"defense_matrix_table: {cells_csv} predates the harm metric; rerun the suite",
              file=sys.stderr)  # fmt: skip
        return 2
    found = verdicts(cells)
    if not found:
        print("defense_matrix_table: no defended cell has an undefended cell of the same "
              "attack and seed to compare with", file=sys.stderr)  # fmt: skip
        return 2
    print(table(cells, found))
    if args.figure is not None:
        figure(found, args.figure)
        print(f"\nfigure: {args.figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
