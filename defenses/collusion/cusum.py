"""A one-sided CUSUM on the normalised price: when did a market's prices leave competition?

    x_mt = mean_i (p_mti - p^N_mt) / (p^M_mt - p^N_mt)       (0: Nash, 1: monopoly)
    S_m0 = 0,   S_mt = max(0, S_m,t-1 + x_mt - slack)
    score_m = max_t S_mt;   first alarm at threshold h: the first t with S_mt > h

Page's cumulative-sum test accumulates evidence that the price level has shifted up from the
competitive reference; ``slack`` (in units of the Nash-monopoly gap) is the drift it ignores,
so honest noise around Nash never builds up. Its use is time to detection: with ``h`` set so
that a chosen share of honest markets ever alarm, the rounds from a cartel's onset to its first
alarm measure how fast a structural break is caught.
"""

from __future__ import annotations

import numpy as np

from defenses.collusion.base import Screen
from defenses.collusion.panel import PricePanel
from defenses.collusion.registry import register_screen
from forest.validation import require_float

SLACK = 0.25


def cusum_path(panel: PricePanel, slack: float = SLACK) -> np.ndarray:
    """(M, T) the CUSUM statistic S_mt of every market after every round."""
    require_float(slack, "slack", 0.0)
    x = panel.normalised_prices().mean(axis=2) - slack
    path = np.empty_like(x)
    running = np.zeros(panel.n_markets)
    for t in range(panel.n_rounds):
        running = np.maximum(0.0, running + x[:, t])
        path[:, t] = running
    return path


def first_alarm(path: np.ndarray, threshold: float) -> np.ndarray:
    """(M,) the first round whose statistic exceeds ``threshold``; -1 where it never does."""
    above = path > threshold
    return np.where(above.any(axis=1), above.argmax(axis=1), -1)


@register_screen
class Cusum(Screen):
    name = "cusum"
    description = "largest one-sided CUSUM of the normalised price above Nash (Page's test)"

    def _score(self, panel: PricePanel) -> np.ndarray:
        return cusum_path(panel).max(axis=1)
