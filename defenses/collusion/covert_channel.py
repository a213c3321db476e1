"""A covert-channel test: do a firm's messages tell its rivals more than its own price does?

In the pricing economy a firm's PRICE quote announces what it charges. A cartel that coordinates
by message sends something else through the same channel (next round's agreed price, a signal).
The screen estimates, for each ordered pair (i -> j) of a market, the conditional mutual
information between firm i's quote and firm j's next price given firm i's own price:

    I_ij = I(q_i,t ; p_j,t+1 | p_i,t)      (Miller-Madow estimate, nats, over rounds t)
    score_m = max over ordered pairs of I_ij

with prices and quotes binned on the normalised scale (``BINS`` bins over [-0.5, 1.5], so the
same in any currency). An honest quote is a function of the sender's price, so I is exactly 0;
any information the channel carries beyond the price raises it. Sampling noise still leaves
small positive or negative estimates for independent series; negative ones read as 0.
"""

from __future__ import annotations

import itertools

import numpy as np

from defenses.collusion.base import Screen
from defenses.collusion.information import conditional_information
from defenses.collusion.panel import PricePanel
from defenses.collusion.registry import register_screen

BINS = 16


def binned_prices(prices: np.ndarray, panel: PricePanel) -> np.ndarray:
    """(M, T, k) bins of prices (or quotes) on the panel's normalised scale."""
    gap = (panel.monopoly - panel.nash)[:, :, None]
    normalised = (prices - panel.nash[:, :, None]) / gap
    scaled = np.floor((normalised + 0.5) / 2.0 * BINS)
    return np.clip(scaled, 0, BINS - 1).astype(np.int64)


@register_screen
class CovertChannel(Screen):
    name = "covert-channel"
    description = "information a firm's quotes carry about rivals' next prices beyond its own price"
    needs = ("quotes",)

    def _score(self, panel: PricePanel) -> np.ndarray:
        prices = binned_prices(panel.prices, panel)
        quotes = binned_prices(panel.quotes, panel)
        pairs = itertools.permutations(range(panel.n_firms), 2)
        info = [
            conditional_information(quotes[:, :-1, i], prices[:, 1:, j], prices[:, :-1, i], BINS)
            for i, j in pairs
        ]
        # Round-off of the four entropies leaves ~1e-16 where the information is exactly 0.
        info = np.max(info, axis=0)
        return np.where(info > 1e-12, info, 0.0)
