"""Security curves and breakdown points: how much harm each attack does as the compromised
share grows, and the smallest share at which that harm passes a stated threshold.

A curve replays each (economy, attack, defense) group of a suite at several compromised shares
(``ThreatModel.fraction``; a ``count`` is dropped), every seed of the suite at each, and gives
harm (welfare lost against the twin per round) with its t interval over seeds at each share,
as IBM ART's security curves give accuracy against budget.

The breakdown point is the smallest share at which mean harm exceeds ``threshold`` times the
twin's welfare (in absolute value; 5% by default), after robust statistics' breakdown point.
It is found on the grid, then refined by ``bisect`` bisections (in log share) of the bracket
around the first crossing; like bisection everywhere it assumes the curve crosses once (the
Carlini checks test that harm does not fall as the share grows). Its interval (low, high]
inverts the harm intervals: ``low`` is the largest evaluated share below every share whose
upper harm bound exceeds the threshold (there harm is significantly under it, so the point
lies above), ``high`` the smallest share whose lower bound exceeds it (significantly over: the
point lies at or below). A curve that never crosses in the range is reported as censored:
"> the largest share".
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from forest.errors import InvalidInputError
from redteam.cell import Cell
from redteam.intervals import PairedDifference, t_interval
from redteam.metrics import CellResult

DEFAULT_SHARES = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5)
DEFAULT_THRESHOLD = 0.05  # of the twin's welfare

# Cells -> their results, in order (an executor, maybe logging to MLflow as it goes).
Evaluate = Callable[[list[Cell]], list[CellResult]]


@dataclass(frozen=True)
class CurvePoint:
    share: float
    harm: PairedDifference  # over seeds
    welfare_twin: float  # mean over seeds
    n_compromised: float  # mean over seeds
    attack_compute_seconds: float  # mean per cell: per-round hooks plus any plan


@dataclass(frozen=True)
class Breakdown:
    share: float | None  # None: harm never exceeds the threshold in the range (censored)
    low: float | None  # the interval (low, high] (module docstring); None: 0
    high: float | None  # None: not bounded within the range
    threshold: float  # the harm the threshold stands for, in welfare units

    def text(self, largest: float) -> str:
        beyond = f"> {largest:.3g}"
        point = beyond if self.share is None else f"{self.share:.3g}"
        low = "0" if self.low is None else f"{self.low:.3g}"
        high = beyond if self.high is None else f"{self.high:.3g}"
        return f"{point} ({low}, {high}]"


@dataclass(frozen=True)
class Curve:
    group: str  # economy | attack | defense
    points: tuple[CurvePoint, ...]  # by share
    breakdown: Breakdown


def check_shares(shares: Sequence[float]) -> tuple[float, ...]:
    out = tuple(sorted(set(float(s) for s in shares)))
    if not out or out[0] <= 0 or out[-1] > 1:
        raise InvalidInputError(f"shares: need compromised shares in (0, 1], got {list(shares)}")
    return out


def at_share(cell: Cell, share: float) -> Cell:
    """The cell with ``share`` of the agents compromised, labelled with it (the label is not
    part of the cell's identity) so that each share is its own row in the run's report."""
    return replace(cell, threat={**cell.threat, "fraction": share, "count": None},
                   attack_label=f"{cell.attack_label} @ {share:.3g}")  # fmt: skip


def _point(share: float, results: list[CellResult], confidence: float) -> CurvePoint:
    def mean(key: str) -> float:
        return float(np.mean([r.scalars[key] for r in results]))

    compute = [r.scalars["seconds_attack"] + r.scalars.get("attack_plan_seconds", 0.0)
               for r in results]  # fmt: skip
    return CurvePoint(
        share,
        t_interval(np.array([r.scalars["harm"] for r in results]), confidence),
        mean("welfare_twin"),
        mean("n_compromised"),
        float(np.mean(compute)),
    )


def _first_over(points: Sequence[CurvePoint], value: Callable[[CurvePoint], float],
                threshold: float) -> float | None:  # fmt: skip
    for point in points:
        if value(point) > threshold:
            return point.share
    return None


def breakdown(points: Sequence[CurvePoint], threshold_share: float) -> Breakdown:
    """The breakdown point of evaluated ``points`` (module docstring)."""
    ordered = sorted(points, key=lambda p: p.share)
    threshold = threshold_share * abs(ordered[0].welfare_twin)
    possible = _first_over(ordered, lambda p: p.harm.high, threshold)
    below = [p.share for p in ordered if possible is None or p.share < possible]
    return Breakdown(
        _first_over(ordered, lambda p: p.harm.mean, threshold),
        max(below) if below else None,
        _first_over(ordered, lambda p: p.harm.low, threshold),
        threshold,
    )


def _bracket(points: Sequence[CurvePoint], threshold: float) -> tuple[float, float] | None:
    """The two evaluated shares around the first crossing of mean harm, if it is not the
    smallest share."""
    ordered = sorted(points, key=lambda p: p.share)
    for below, above in itertools.pairwise(ordered):
        if above.harm.mean > threshold:
            return (below.share, above.share) if below.harm.mean <= threshold else None
    return None


def security_curves(
    cells: Sequence[Cell],
    evaluate: Evaluate,
    shares: Sequence[float] = DEFAULT_SHARES,
    threshold_share: float = DEFAULT_THRESHOLD,
    bisect: int = 2,
    confidence: float = 0.95,
) -> list[Curve]:
    """The curve of every group of ``cells`` (a suite's: each seed of each group) over
    ``shares``, with its breakdown point refined by ``bisect`` bisections."""
    grid = check_shares(shares)
    if not threshold_share > 0:
        raise InvalidInputError(f"threshold: need a positive share, got {threshold_share}")
    if bisect < 0:
        raise InvalidInputError(f"bisect: need 0 or more bisections, got {bisect}")
    groups: dict[str, list[Cell]] = {}
    for cell in cells:
        groups.setdefault(cell.group, []).append(cell)
    points: dict[str, dict[float, CurvePoint]] = {g: {} for g in groups}

    def run(wanted: dict[str, list[float]]) -> None:
        batch = [(g, s, at_share(c, s)) for g, ss in wanted.items() for s in ss for c in groups[g]]
        results = evaluate([cell for _, _, cell in batch])
        by_point: dict[tuple[str, float], list[CellResult]] = {}
        for (g, s, _), result in zip(batch, results, strict=True):
            by_point.setdefault((g, s), []).append(result)
        for (g, s), found in by_point.items():
            points[g][s] = _point(s, found, confidence)

    run({g: list(grid) for g in groups})
    for _ in range(bisect):
        wanted = {}
        for g, found in points.items():
            threshold = threshold_share * abs(found[grid[0]].welfare_twin)
            bracket = _bracket(list(found.values()), threshold)
            if bracket is not None:
                wanted[g] = [math.sqrt(bracket[0] * bracket[1])]
        if not wanted:
            break
        run(wanted)
    curves = []
    for g, found in points.items():
        ordered = tuple(sorted(found.values(), key=lambda p: p.share))
        curves.append(Curve(g, ordered, breakdown(ordered, threshold_share)))
    return curves
