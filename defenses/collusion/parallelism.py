"""Price parallelism: when prices change, do all firms of a market change them the same way?

    moved_mt    = some firm of market m changed its price from round t-1 to t
    parallel_mt = every firm changed it, all in the same direction
    score_m     = #{t: parallel_mt} / #{t: moved_mt}          (0 if no firm ever moved)

Competition authorities read lockstep price changes as a sign of coordination. A change counts
when it exceeds 1e-9 of the market's mean price, so the screen does not depend on price units.
A common cost shock moves honest firms in parallel too: that is its hard negative.
"""

from __future__ import annotations

import numpy as np

from defenses.collusion.base import Screen
from defenses.collusion.panel import PricePanel
from defenses.collusion.registry import register_screen


@register_screen
class Parallelism(Screen):
    name = "parallelism"
    description = "share of price changes that every firm makes together, in one direction"

    def _score(self, panel: PricePanel) -> np.ndarray:
        change = np.diff(panel.prices, axis=1)  # (M, T-1, k)
        tolerance = 1e-9 * np.abs(panel.prices).mean(axis=(1, 2))[:, None, None]
        direction = np.sign(change) * (np.abs(change) > tolerance)
        moved = (direction != 0).any(axis=2)
        parallel = (direction == direction[:, :, :1]).all(axis=2) & (direction[:, :, 0] != 0)
        count = moved.sum(axis=1)
        return np.where(count > 0, parallel.sum(axis=1) / np.maximum(count, 1), 0.0)
