"""Two runs of the same suite, made by two versions of the code: are their figures identical,
and how long did each take?

    python experiments/compare_suite_runs.py results/before results/after

Each folder is a ``redteam run ... --out FOLDER`` report (its ``cells.csv``); the wall time
comes from the file ``wall_seconds`` beside it when present (what
``experiments/suite_before_after.sh`` writes). Every figure but wall-clock timings and MLflow
ids must match to the last bit (nan matches nan); the script lists any that do not and exits
1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from redteam.metrics import TIMING_METRICS

NOT_FIGURES = {"run_id", "cell_hash", *TIMING_METRICS}
KEY = ["group", "seed"]


def read(folder: Path) -> pd.DataFrame:
    path = folder / "cells.csv"
    if not path.is_file():
        raise SystemExit(f"{folder}: no cells.csv (a redteam run --out folder?)")
    cells = pd.read_csv(path)
    return cells.drop(columns=[c for c in cells.columns if c in NOT_FIGURES])


def differences(before: pd.DataFrame, after: pd.DataFrame) -> list[str]:
    """One line per figure that differs (or a missing cell or column)."""
    if set(before.columns) != set(after.columns):
        return [f"columns differ: {sorted(set(before.columns) ^ set(after.columns))}"]
    before = before.sort_values(KEY).reset_index(drop=True)
    after = after.sort_values(KEY).reset_index(drop=True)[before.columns]
    if not before[KEY].equals(after[KEY]):
        return ["the runs have different cells"]
    out = []
    numbers = before.select_dtypes("number").columns
    a, b = before[numbers].to_numpy(np.float64), after[numbers].to_numpy(np.float64)
    rows, cols = np.nonzero(~((a == b) | (np.isnan(a) & np.isnan(b))))
    for r, c in zip(rows, cols, strict=True):
        out.append(f"{before.loc[r, 'group']} seed {before.loc[r, 'seed']}: {numbers[c]} "
                   f"{float(a[r, c])!r} -> {float(b[r, c])!r}")  # fmt: skip
    text = [c for c in before.columns if c not in numbers]
    for c in text:
        x, y = before[c], after[c]
        for r in np.flatnonzero((x != y) & ~(x.isna() & y.isna())):
            out.append(f"{before.loc[r, 'group']}: {c} {before.loc[r, c]!r} -> {after.loc[r, c]!r}")
    return out


def wall(folder: Path) -> float | None:
    path = folder / "wall_seconds"
    return float(path.read_text()) if path.is_file() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    before, after = read(args.before), read(args.after)
    found = differences(before, after)
    figures = before.select_dtypes("number").shape[1] - 1  # the seed is a key, not a figure
    print(f"{len(before)} cells, {figures} figures each: "
          f"{'identical' if not found else f'{len(found)} differ'}")  # fmt: skip
    for line in found[:50]:
        print("  " + line)
    times = wall(args.before), wall(args.after)
    if None not in times:
        print(f"wall time: before {times[0]:.0f} s, after {times[1]:.0f} s, "
              f"{times[0] / times[1]:.2f}x faster")  # fmt: skip
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
