"""The percentile bootstrap over seed means that the scorecard used before issue #21, kept as the
counter-example its replacement is measured against (``redteam.intervals``: the coverage test
and ``experiments/validate_estimators.py``): with 2-3 seeds it returns about their range.

A figure that is undefined in some seed (nan: a share never reached, no detector) has an
undefined mean too, rather than a mean over the seeds that happen to define it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Estimate:
    mean: float
    low: float
    high: float
    n: int

    def text(self, digits: int = 3) -> str:
        if np.isnan(self.mean):
            return "—"
        if np.isnan(self.low):
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def bootstrap_mean(
    values: list[float] | np.ndarray, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> Estimate:
    """Mean and percentile bootstrap interval; one value has no interval, equal values a point."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0 or np.isnan(x).any():
        return Estimate(float("nan"), float("nan"), float("nan"), int(x.size))
    mean = float(x.mean())
    if x.size == 1:
        return Estimate(mean, float("nan"), float("nan"), 1)
    if np.all(x == x[0]):
        return Estimate(mean, mean, mean, int(x.size))
    result = stats.bootstrap(
        (x,),
        np.mean,
        confidence_level=confidence,
        n_resamples=resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    ci = result.confidence_interval
    return Estimate(mean, float(ci.low), float(ci.high), int(x.size))
