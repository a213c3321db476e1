"""The defense matrix's README table and cost-vs-robustness figure, from a finished
`redteam run` of experiments/suites/defense_matrix.toml.

    python experiments/defense_matrix_table.py results/defense_matrix [--figure PATH]

reads the run's ``groups.csv`` (every figure a mean over seeds) and prints a markdown table, one
row per attack and defense. ``prevented`` is the share of the undefended attack success rate
(the same attack, non-adaptive, against no defense) that the defense takes away:
``1 - ASR / ASR undefended``. A defense *holds* when it prevents at least half the successes or
its detector flags at least half the attackers at a 1% false-positive rate, is *partial* from
20% (either way), and *breaks* below; whatever it prevents or sees, a defense that leaves honest
agents' task completion under attack more than a point below no defense at all is *worse*
(``vs none``: that difference). An attack with no success undefended has nothing to prevent
("—").
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

NO_DEFENSE = "no defense"
HOLDS, PARTIAL = 0.5, 0.2
WORSE = 0.01  # task completion under attack this far below no defense: the cure hurts


def _fmt(value: float, digits: int = 2) -> str:
    return (
        "—"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else f"{value:.{digits}f}"
    )


def matrix(groups: pd.DataFrame) -> pd.DataFrame:
    """One row per (attack, defense) with the figures the table and the plot need."""
    parts = groups["group"].str.split(" | ", regex=False, expand=True)
    attack, defense = parts[1], parts[2]
    base = attack.str.replace(" adaptive", "", regex=False)
    undefended = defense == NO_DEFENSE
    asr = groups["attack_success_rate"]
    reference = base.map(pd.Series(asr[undefended].to_numpy(), index=base[undefended]))
    under = groups["utility_under_attack"]
    unprotected = base.map(pd.Series(under[undefended].to_numpy(), index=base[undefended]))
    extra = pd.DataFrame(
        {
            "economy": parts[0],
            "attack": attack,
            "defense": defense,
            "clean_cost": groups["utility"] - groups["utility_defended"],
            "prevented": (1.0 - asr / reference).where(reference > 1e-9),
            "vs_none": under - unprotected,
        },
        index=groups.index,
    )
    if "detection_tpr_at_1pct_fpr" not in groups:
        extra["detection_tpr_at_1pct_fpr"] = float("nan")
    return pd.concat([groups, extra], axis=1)


def verdict(prevented: float, detected: float, vs_none: float = 0.0) -> str:
    if vs_none <= -WORSE:
        return "worse"
    if math.isnan(prevented):
        return "—"
    seen = 0.0 if math.isnan(detected) else detected
    best = max(prevented, seen)
    return "holds" if best >= HOLDS else "partial" if best >= PARTIAL else "breaks"


COLUMNS = (
    ("clean_cost", "clean cost", 3),
    ("utility_under_attack", "under attack", 3),
    ("vs_none", "vs none", 3),
    ("attack_success_rate", "ASR", 2),
    ("prevented", "prevented", 2),
    ("blast_radius_final", "blast radius", 2),
    ("detection_tpr_at_1pct_fpr", "TPR@1%FPR", 2),
    ("detection_auc", "AUC", 2),
    ("time_to_detection", "rounds to detect", 1),
    ("escalation_rate", "escalated", 2),
    ("cost_per_1m_interactions", "$ per 1M", 4),
)


def table(frame: pd.DataFrame) -> str:
    head = "| attack | defense | " + " | ".join(h for _, h, _ in COLUMNS) + " | verdict |"
    lines = [head, "|" + "---|" * (3 + len(COLUMNS))]
    for _, row in frame.iterrows():
        cells = [_fmt(row.get(metric, float("nan")), digits) for metric, _, digits in COLUMNS]
        verdict_text = (
            "(reference)"
            if row["defense"] == NO_DEFENSE
            else verdict(row["prevented"], row["detection_tpr_at_1pct_fpr"], row["vs_none"])
        )
        lines.append(f"| {row['attack']} | {row['defense']} | " + " | ".join(cells)
                     + f" | {verdict_text} |")  # fmt: skip
    return "\n".join(lines)


def figure(frame: pd.DataFrame, path: Path) -> None:
    """Each defense's clean cost and compute multiplier against the share of the undefended
    attack successes it prevents (mean over the attacks it meets that succeed undefended;
    adaptive ones drawn apart)."""
    defended = frame[frame["defense"] != NO_DEFENSE]
    adaptive = defended["attack"].str.endswith("adaptive")
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained")
    for ax, x, label in (
        (axes[0], "clean_cost", "clean cost: task completion lost without attack (points)"),
        (axes[1], "cost_multiplier", "compute cost multiplier (FLOPs, x the plain forest)"),
    ):
        for index, (name, rows) in enumerate(defended.groupby("defense", sort=True)):
            colour = f"C{index}"
            for is_adaptive, marker in ((False, "o"), (True, "x")):
                part = rows[adaptive.loc[rows.index] == is_adaptive]
                if part.empty or part["prevented"].isna().all():
                    continue
                scale = 100.0 if x == "clean_cost" else 1.0
                legend = f"{name} (adaptive attacks)" if is_adaptive else name
                ax.scatter(part[x].mean() * scale, part["prevented"].mean(), color=colour,
                           marker=marker, s=70, label=legend)  # fmt: skip
        ax.axhline(HOLDS, color="grey", linestyle=":", linewidth=1)
        ax.axhline(0.0, color="grey", linewidth=0.8)
        ax.set_xlabel(label)
        ax.set_ylabel("share of the undefended attack successes prevented")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="best")
    fig.suptitle(
        "Defense matrix: cost against robustness (supply chain, 1,000 agents, 1% compromised)"
    )
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report_dir", type=Path, help="the run's report folder (results/NAME)")
    parser.add_argument("--figure", type=Path, help="also draw the cost-vs-robustness plot here")
    args = parser.parse_args(argv)
    groups_csv = args.report_dir / "groups.csv"
    if not groups_csv.is_file():
        print(f"defense_matrix_table: no {groups_csv}; run the suite first", file=sys.stderr)
        return 2
    frame = matrix(pd.read_csv(groups_csv))
    if not (frame["defense"] == NO_DEFENSE).any():
        print("defense_matrix_table: the run has no 'no defense' rows to compare with",
              file=sys.stderr)  # fmt: skip
        return 2
    print(table(frame))
    if args.figure is not None:
        figure(frame, args.figure)
        print(f"\nfigure: {args.figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
