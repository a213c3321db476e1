"""Intervals for attacked-minus-twin differences that stay honest with two or three seeds.

What the interval is: a Student-t interval on the mean of per-seed paired differences (attacked
episode minus its clean twin, same seed). For agent- or tree-level figures the per-tree
differences of a seed are first averaged to one number per seed (the "summary statistic"
approach to nested designs), and the t interval is taken over those seed means.

Why: a suite runs 2-5 seeds, and the seed is the independent unit (trees and agents of one seed
share its economy, its model and its attack, so they are not independent draws). A percentile
bootstrap over 2-3 seed means returns about the seeds' [min, max]; with two seeds that covers
the true mean only about half the time. Pooling trees or agents as if independent ignores
that the attack's effect varies between seeds and undercovers too (about 90% on the test's
synthetic suites, less as the seed-to-seed variation grows). The t interval on seed means is
exact when seed means are normal and close to nominal otherwise; a two-stage bootstrap (seeds,
then trees) still draws its seed-level spread from resampling 2-3 seeds, i.e. again from about
their range, so it is not used. The price of honesty is width: with two seeds the t quantile
is 12.7.

What n means: the number of seeds (independent units), always shown. n = 1 has no interval.
A difference undefined in any seed (nan) is undefined overall, as in ``redteam.statistics``.
The result is ``significant`` when the interval excludes 0; its text says "(not significant)"
when the interval holds 0. Coverage on synthetic suites is tested in
tests/redteam/test_intervals.py and measured at full size by experiments/validate_estimators.py.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from forest.errors import InvalidInputError


@dataclass(frozen=True)
class PairedDifference:
    mean: float  # mean attacked - twin difference (nan: undefined)
    low: float  # interval bounds (nan: no interval, n < 2 or undefined)
    high: float
    n: int  # independent units: seeds
    method: str

    @property
    def significant(self) -> bool:
        """True when the interval excludes 0; False when it holds 0 or is undefined."""
        if math.isnan(self.low) or math.isnan(self.high):
            return False
        return self.low > 0 or self.high < 0

    def short(self, digits: int = 3) -> str:
        """For a table whose rows state n: "mean [low, high]", " ns" when not significant."""
        if math.isnan(self.mean):
            return "—"
        if math.isnan(self.low):
            return f"{self.mean:.{digits}f}"
        out = f"{self.mean:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"
        return out if self.significant else out + " ns"

    def text(self, digits: int = 3) -> str:
        if math.isnan(self.mean):
            return "—"
        if math.isnan(self.low):
            return f"{self.mean:+.{digits}f} n={self.n}, no interval"
        f = f"+.{digits}f"
        out = f"{self.mean:{f}} [{self.low:{f}}, {self.high:{f}}] n={self.n}"
        return out if self.significant else out + " (not significant)"


@functools.lru_cache(maxsize=256)
def _t_quantile(df: int, confidence: float) -> float:
    return float(stats.t.ppf(0.5 + confidence / 2, df))


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise InvalidInputError(f"confidence: need 0 < confidence < 1, got {confidence}")


def t_interval(
    differences: np.ndarray, confidence: float = 0.95, method: str = "t"
) -> PairedDifference:
    """Student-t interval on the mean of per-unit differences (1-D, one per seed)."""
    _check_confidence(confidence)
    d = np.asarray(differences, dtype=np.float64)
    if d.ndim != 1:
        raise InvalidInputError(f"differences: need a 1-D array, one value a seed, got {d.shape}")
    n = int(d.size)
    if n == 0 or np.isnan(d).any():
        return PairedDifference(math.nan, math.nan, math.nan, n, method)
    mean = float(d.mean())
    if n == 1:
        return PairedDifference(mean, math.nan, math.nan, 1, method)
    if np.all(d == d[0]):  # exactly, without the rounding of a mean and a standard deviation
        return PairedDifference(float(d[0]), float(d[0]), float(d[0]), n, method)
    half = _t_quantile(n - 1, confidence) * float(d.std(ddof=1)) / math.sqrt(n)
    return PairedDifference(mean, mean - half, mean + half, n, method)


def paired_t_interval(
    attacked: np.ndarray, twin: np.ndarray, confidence: float = 0.95
) -> PairedDifference:
    """Seed-level figure: per-seed values of the attacked episode and its twin, (S,) each."""
    a = np.asarray(attacked, dtype=np.float64)
    b = np.asarray(twin, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise InvalidInputError(
            f"attacked, twin: need two (seeds,) arrays of equal length, got {a.shape} and {b.shape}"
        )
    return t_interval(a - b, confidence, method="paired t over seeds")


def hierarchical_interval(
    attacked: np.ndarray,
    twin: np.ndarray,
    confidence: float = 0.95,
    *,
    weights: np.ndarray | None = None,
) -> PairedDifference:
    """Tree- or agent-level figure: (S, T) per-seed, per-tree values, paired by seed and tree.

    Each seed's difference is the mean over its trees of attacked - twin (weighted by
    ``weights``, (T,) or (S, T), e.g. agents per tree for an agent-level mean); the interval is
    the t interval over the S seed means, so n = S. The estimand is the mean over seeds of the
    (weighted) tree-mean difference.
    """
    a = np.asarray(attacked, dtype=np.float64)
    b = np.asarray(twin, dtype=np.float64)
    if a.ndim != 2 or a.shape != b.shape or a.shape[1] == 0:
        raise InvalidInputError(
            f"attacked, twin: need two (seeds, trees) arrays of equal shape with at least one "
            f"tree, got {a.shape} and {b.shape}"
        )
    diff = a - b
    if weights is None:
        per_seed = diff.mean(axis=1)
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape not in (a.shape[1:], a.shape) or np.any(w < 0) or np.any(w.sum(-1) <= 0):
            raise InvalidInputError(
                f"weights: need non-negative (trees,) or (seeds, trees) weights, positive in "
                f"each seed, got {w.shape}"
            )
        w = np.broadcast_to(w, a.shape)
        per_seed = (diff * w).sum(axis=1) / w.sum(axis=1)
    method = f"t over seed means of {a.shape[1]} trees"
    return t_interval(per_seed, confidence, method=method)
