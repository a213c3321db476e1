"""A covert-channel test on the compressed latent: do summary tokens tell rivals what to charge?

The forest pools a market's summary tokens, so a cartel can signal through them (see
``attacks.covert_summary``). The defender does not know the direction it uses, so the screen
looks along the directions in which honest summary tokens vary most: the top ``COMPONENTS``
principal components of every token of a reference panel of honest markets (``fit``; unfitted,
of the panel scored). Each token's projection is cut into ``BINS`` bins that hold equal shares
of the reference's projections (so the bins do not depend on units or on the sign of a
component), prices are binned on the normalised scale as in the message covert-channel test,
and

    I_ij,c = I(z_i,t,c ; p_j,t+1 | p_i,t)     (Miller-Madow estimate, nats)
    score_m = max over ordered pairs (i, j) and components c of I_ij,c

the information firm i's token carries about firm j's next price beyond firm i's own price.
Honest tokens encode a firm's own state, which also moves with its rival, so the honest score is
not zero: the threshold comes from honest forest-played markets.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from defenses.collusion.base import Screen
from defenses.collusion.covert_channel import BINS as PRICE_BINS
from defenses.collusion.covert_channel import binned_prices
from defenses.collusion.information import conditional_information
from defenses.collusion.panel import PricePanel
from defenses.collusion.registry import register_screen

COMPONENTS = 4
BINS = 8


@dataclass(frozen=True)
class TokenBasis:
    """The directions tokens are read along and the bin edges of each: (d,), (d, c), (c, B-1)."""

    mean: np.ndarray
    components: np.ndarray
    edges: np.ndarray

    @staticmethod
    def fit(summaries: np.ndarray, components: int = COMPONENTS, bins: int = BINS) -> TokenBasis:
        flat = summaries.reshape(-1, summaries.shape[-1]).astype(np.float32)
        mean = flat.mean(axis=0, dtype=np.float64).astype(np.float32)
        centred = flat - mean
        # The covariance's eigenvectors: d x d, however many tokens there are. Single precision
        # for the product over tokens (the screen's time), double for the small eigenproblem.
        _, vectors = np.linalg.eigh((centred.T @ centred).astype(np.float64))
        top = vectors[:, ::-1][:, :components].astype(np.float32)
        projected = centred @ top
        quantiles = np.linspace(0, 1, bins + 1)[1:-1]
        edges = np.stack([np.quantile(projected[:, c], quantiles) for c in range(top.shape[1])])
        return TokenBasis(mean, top, edges)

    def bins(self, summaries: np.ndarray) -> np.ndarray:
        """(M, T, k, c) each token's bin on each component."""
        flat = summaries.reshape(-1, summaries.shape[-1]).astype(np.float32) - self.mean
        projected = flat @ self.components
        binned = np.stack(
            [np.searchsorted(self.edges[c], projected[:, c], side="right")
             for c in range(self.components.shape[1])], axis=1,
        )  # fmt: skip
        return binned.reshape(*summaries.shape[:-1], -1).astype(np.int64)


@register_screen
class SummaryChannel(Screen):
    name = "summary-channel"
    description = "information a firm's summary token carries about rivals' next prices"
    needs = ("summaries",)
    basis: TokenBasis | None = None

    def fit(self, reference: PricePanel) -> SummaryChannel:
        self._check(reference)
        self.basis = TokenBasis.fit(reference.summaries)
        return self

    def _score(self, panel: PricePanel) -> np.ndarray:
        basis = self.basis or TokenBasis.fit(panel.summaries)
        binned = basis.bins(panel.summaries)
        prices = binned_prices(panel.prices, panel)
        size = max(BINS, PRICE_BINS)
        best = np.zeros(panel.n_markets)
        for c in range(binned.shape[-1]):
            tokens = binned[..., c]
            for i, j in itertools.permutations(range(panel.n_firms), 2):
                info = conditional_information(
                    tokens[:, :-1, i], prices[:, 1:, j], prices[:, :-1, i], size
                )
                best = np.maximum(best, info)
        return np.where(best > 1e-12, best, 0.0)
