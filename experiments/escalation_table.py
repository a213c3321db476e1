"""What escalation prevents, and at what compute: the README table of a finished `redteam run`
of experiments/suites/escalation_robust.toml.

    python experiments/escalation_table.py results/escalation_robust [--figure PATH]

One row per attack and escalation target, each figure a t interval over seeds ("ns" where it
holds 0):

- harm: welfare per agent-round the attack costs, against the defense's own clean twin;
- harm change: defended minus undefended harm, paired per seed (negative: prevented), and the
  share of the undefended harm that is (change over the undefended mean harm; the interval
  scales the change's, the denominator held at its mean);
- loss vs clean: welfare per agent-round the attacked, defended economy has lost against the
  clean, undefended one (the attack's harm plus whatever the escalations cost: the model swap);
- escalated: share of rounds from the attack's start the large model played, attacked / clean;
- compute: the deployed forward FLOPs against the small forest alone (``cost_multiplier``);
- the verdict of ``redteam.verdicts``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from redteam.intervals import PairedDifference, t_interval
from redteam.verdicts import NO_DEFENSE, Verdict, labelled, verdicts


def rows(cells: pd.DataFrame) -> list[dict[str, str]]:
    cells = labelled(cells)
    found = {(v.attack, v.defense): v for v in verdicts(cells)}
    base = cells[cells["defense"] == NO_DEFENSE].set_index(["economy", "attack", "seed"])
    out = []
    for (economy, attack, defense), group in cells.groupby(
        ["economy", "attack", "defense"], sort=False
    ):
        harm = t_interval(group["harm"].to_numpy(np.float64))
        row = {"economy": economy, "attack": attack, "defense": defense, "harm": harm.short(2)}
        keys = [(economy, attack.removesuffix(" adaptive"), s) for s in group["seed"]]
        verdict: Verdict | None = found.get((f"{economy} | {attack}", defense))
        row.update({"harm change": "—", "prevented": "—", "loss vs clean": "—", "verdict": "—"})
        if all(k in base.index for k in keys):
            reference = base.loc[keys]
            undefended = float(reference["harm"].mean())
            if verdict is not None:
                change = verdict.changes["harm"]
                row["harm change"] = change.short(2)
                row["verdict"] = verdict.word
                row["prevented"] = _prevented(change, undefended)
            loss = reference["welfare_twin"].to_numpy() - group["welfare_under_attack"].to_numpy()
            row["loss vs clean"] = t_interval(loss).short(2)
        row["escalated"] = (
            f"{group['escalation_rate'].mean():.2f} / {group['escalation_rate_clean'].mean():.2f}"
        )
        row["compute"] = f"{group['cost_multiplier'].mean():.2f}x"
        row["n"] = str(len(group))
        out.append(row)
    return out


def _prevented(change: PairedDifference, undefended: float) -> str:
    """The share of the undefended harm the defense took away (a share of nothing, or of a
    gain, is undefined)."""
    if undefended <= 0:
        return "—"
    share = [-x / undefended for x in (change.mean, change.high, change.low)]
    ns = "" if change.significant else " ns"
    return f"{share[0]:.0%} [{share[1]:.0%}, {share[2]:.0%}]{ns}"


COLUMNS = ("economy", "attack", "defense", "harm", "harm change", "prevented", "loss vs clean",
           "escalated", "compute", "n", "verdict")  # fmt: skip


def table(found: list[dict[str, str]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(r[c] for c in COLUMNS) + " |" for r in found]
    return "\n".join(lines)


def figure(cells: pd.DataFrame, path: Path) -> None:
    """Harm per seed for each escalation target, plain and adaptive attack side by side."""
    cells = labelled(cells)
    defenses = list(dict.fromkeys(cells["defense"]))
    attacks = list(dict.fromkeys(cells["attack"]))
    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    width = 0.8 / len(attacks)
    shown = set()
    for a, attack in enumerate(attacks):
        for d, defense in enumerate(defenses):
            harm = cells[(cells["attack"] == attack) & (cells["defense"] == defense)]["harm"]
            if harm.empty:
                continue
            x = d + (a - (len(attacks) - 1) / 2) * width
            label = None if attack in shown else attack
            shown.add(attack)
            ax.bar(x, harm.mean(), width * 0.9, color=f"C{a}", alpha=0.6, label=label)
            ax.scatter(np.full(len(harm), x), harm, color=f"C{a}", s=12, zorder=3)
    ax.set_xticks(range(len(defenses)), defenses, rotation=15, ha="right", fontsize=8)
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.set_ylabel("harm: welfare lost per agent-round")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    fig.suptitle("Defenses against PGD on harm at 10% compromised (dots: seeds)")
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report_dir", type=Path, help="the run's report folder (results/NAME)")
    parser.add_argument("--figure", type=Path, help="also draw harm per escalation target here")
    args = parser.parse_args(argv)
    cells_csv = args.report_dir / "cells.csv"
    if not cells_csv.is_file():
        print(f"escalation_table: no {cells_csv}; run the suite first", file=sys.stderr)
        return 2
    cells = pd.read_csv(cells_csv)
    needed = {"harm", "welfare_twin", "welfare_under_attack", "cost_multiplier"}
    if not needed <= set(cells) or NO_DEFENSE not in set(labelled(cells)["defense"]):
        print(f"escalation_table: {cells_csv} needs harm, welfare and cost columns and "
              "undefended cells; rerun the suite", file=sys.stderr)  # fmt: skip
        return 2
    print(table(rows(cells)))
    if args.figure is not None:
        figure(cells, args.figure)
        print(f"\nfigure: {args.figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
