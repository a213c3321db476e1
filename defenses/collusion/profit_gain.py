"""Calvano's profit gain and the normalised price: where a market sits between Nash and monopoly.

    Delta_m = mean over rounds t and firms i of (pi_mti - pi^N_mt) / (pi^M_mt - pi^N_mt)
    P_m     = mean over rounds t and firms i of (p_mti - p^N_mt) / (p^M_mt - p^N_mt)

Both are 0 at the competitive outcome and 1 at joint monopoly, measured against the benchmarks
solved for each market (and each round's cost level), so they compare markets of any size,
cost or currency. They cannot tell a cartel from honest firms that face high costs unless the
benchmarks account for those costs: that is why the panel carries per-round benchmarks.
"""

from __future__ import annotations

import numpy as np

from defenses.collusion.base import Screen
from defenses.collusion.panel import PricePanel
from defenses.collusion.registry import register_screen


@register_screen
class ProfitGain(Screen):
    name = "profit-gain"
    description = "Calvano's Delta: mean profit between Nash (0) and monopoly (1)"
    needs = ("profits",)

    def _score(self, panel: PricePanel) -> np.ndarray:
        low, high = panel.nash_profit[:, :, None], panel.monopoly_profit[:, :, None]
        return ((panel.profits - low) / (high - low)).mean(axis=(1, 2))


@register_screen
class NormalisedPrice(Screen):
    name = "normalised-price"
    description = "mean price between Nash (0) and monopoly (1)"

    def _score(self, panel: PricePanel) -> np.ndarray:
        return panel.normalised_prices().mean(axis=(1, 2))
