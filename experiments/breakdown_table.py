"""The breakdown study's table and figure, from a finished `redteam curve`:

    redteam curve experiments/suites/breakdown.toml --workers 2 \\
        --shares 0.01,0.05,0.1,0.25,0.5 --bisect 1
    python experiments/breakdown_table.py results/breakdown-curve \\
        --figure experiments/figures/breakdown_supply_chain.png

prints a markdown table from the run's ``curves.json``: per attack, harm with its t interval
over seeds at each share ("ns" where it holds 0), the breakdown point with its interval, and the
attacker's mean compute per cell (per-round hooks plus any plan); ``--figure`` copies the
command's harm-against-share figure there.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from pathlib import Path

from redteam.commands.curve import CURVES_JSON, CURVES_PNG


def _harm(h: dict) -> str:
    if math.isnan(h["mean"]):
        return "—"
    if math.isnan(h["low"]):
        return f"{h['mean']:+.2f}"
    significant = h["low"] > 0 or h["high"] < 0
    text = f"{h['mean']:+.2f} [{h['low']:+.2f}, {h['high']:+.2f}]"
    return text if significant else text + " ns"


def _share(x: float | None, missing: str) -> str:
    return missing if x is None else f"{x:.3g}"


def table(found: dict) -> str:
    """One row per attack; under defenses (a suite with more than "no defense"), one per attack
    and defense, each with its own threshold (its twin is the defended one)."""
    curves = found["curves"]
    shares = sorted({p["share"] for c in curves for p in c["points"]})
    largest = f"> {shares[-1]:.3g}"
    defended = any(c["group"].split(" | ")[2] != "no defense" for c in curves)
    head = ["attack", *(["defense", "threshold"] if defended else []),
            *(f"{s:.3g}" for s in shares), "breakdown (interval]", "attacker s/cell"]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in curves:
        points = {p["share"]: p for p in c["points"]}
        b = c["breakdown"]
        point = _share(b["share"], largest)
        interval = f"({_share(b['low'], '0')}, {_share(b['high'], largest)}]"
        compute = max(p["attack_compute_seconds"] for p in c["points"])
        _, attack, defense = c["group"].split(" | ")
        row = [attack, *([defense, f"{b['threshold']:.3g}"] if defended else []),
               *(_harm(points[s]["harm"]) if s in points else "" for s in shares),
               f"{point} {interval}", f"{compute:.0f}"]  # fmt: skip
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    share = found["threshold_share_of_twin_welfare"]
    if defended:
        lines.append(f"Breakdown threshold: harm above {share:.0%} of each twin's welfare "
                     "(the defended twin's under a defense).")  # fmt: skip
    else:
        threshold = curves[0]["breakdown"]["threshold"]
        lines.append(f"Breakdown threshold: harm above {threshold:.3g} per round "
                     f"({share:.0%} of the twin's welfare).")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="the `redteam curve` output folder")
    parser.add_argument("--figure", type=Path, help="copy the harm-against-share figure here")
    args = parser.parse_args(argv)
    source = args.folder / CURVES_JSON
    if not source.is_file():
        print(f"breakdown_table: error: no {CURVES_JSON} in {args.folder}", file=sys.stderr)
        return 2
    print(table(json.loads(source.read_text())))
    if args.figure:
        shutil.copyfile(args.folder / CURVES_PNG, args.figure)
    return 0


if __name__ == "__main__":
    sys.exit(main())
