"""A covert-channel test on the compressed latent: do summary tokens tell rivals what to charge?

The forest pools a market's summary tokens, so a cartel can signal through them (see
``attacks.covert_summary``). The defender does not know the direction a cartel writes along, so
the screen reads each firm's token along the direction in which that firm's own token varies
most over the rounds screened (the leading principal component of its centred tokens, found by
power iteration), cuts that projection into ``BINS`` bins holding equal shares of its rounds
(unit-free, and blind to the component's sign), bins prices on the normalised scale as the
message covert-channel test does, and estimates

    I_ij = I(z_i,t ; p_j,t+1 | p_i,t)     (Miller-Madow estimate, nats)
    score_m = max over ordered pairs (i, j) of I_ij

the information firm i's token carries about firm j's next price beyond firm i's own price.
Everything is per firm and market, so a market's score does not depend on which other markets
share its panel. A token that never moves scores 0; honest tokens that encode a firm's own
state, which also moves with its rival, score above 0: thresholds come from honest markets.
"""

from __future__ import annotations

import itertools

import numpy as np

from defenses.collusion.base import Screen
from defenses.collusion.covert_channel import BINS as PRICE_BINS
from defenses.collusion.covert_channel import binned_prices
from defenses.collusion.information import conditional_information
from defenses.collusion.panel import PricePanel
from defenses.collusion.registry import register_screen

BINS = 8
POWER_ITERATIONS = 30


def leading_projection(summaries: np.ndarray) -> np.ndarray:
    """(M, T, k) each firm's centred tokens projected on their own leading direction."""
    tokens = summaries.transpose(0, 2, 1, 3).astype(np.float32)  # (M, k, T, d)
    tokens = tokens - tokens.mean(axis=2, keepdims=True)
    # A fixed start: the same tokens always give the same direction.
    direction = np.random.default_rng(0).standard_normal(tokens.shape[-1]).astype(np.float32)
    direction = np.broadcast_to(direction, tokens.shape[:2] + direction.shape).copy()
    direction = direction[..., None]  # (M, k, d, 1): batched matrix products from here
    covariance = tokens.swapaxes(-1, -2) @ tokens  # (M, k, d, d), once
    for _ in range(POWER_ITERATIONS):
        direction = covariance @ direction
        norm = np.linalg.norm(direction, axis=-2, keepdims=True)
        direction = np.divide(direction, norm, out=np.zeros_like(direction), where=norm > 0)
    projected = (tokens @ direction)[..., 0]  # (M, k, T)
    return projected.transpose(0, 2, 1).astype(np.float64)


def rank_bins(values: np.ndarray, bins: int) -> np.ndarray:
    """(M, T, k) bins 0..bins-1 of each firm's series, holding equal shares of its rounds
    (a series that never moves sits in one bin)."""
    edges = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1], axis=1)  # (B-1, M, k)
    edges = edges.transpose(1, 2, 0)[:, None, :, :]  # (M, 1, k, B-1)
    return (values[..., None] > edges).sum(axis=-1).astype(np.int64)


@register_screen
class SummaryChannel(Screen):
    name = "summary-channel"
    description = "information a firm's summary token carries about rivals' next prices"
    needs = ("summaries",)

    def _score(self, panel: PricePanel) -> np.ndarray:
        tokens = rank_bins(leading_projection(panel.summaries), BINS)
        prices = binned_prices(panel.prices, panel)
        size = max(BINS, PRICE_BINS)
        info = [
            conditional_information(tokens[:, :-1, i], prices[:, 1:, j], prices[:, :-1, i], size)
            for i, j in itertools.permutations(range(panel.n_firms), 2)
        ]
        best = np.max(info, axis=0)
        return np.where(best > 1e-12, best, 0.0)
