"""Bid-rigging screens for the exchange's auctions (Imhof 2019; Huber and Imhof 2019).

A sellers' cartel that rotates wins leaves three marks on the asks of each market's auctions,
each scored per market over the rounds screened (asks ``a_t,1 <= ... <= a_t,S`` sorted):

- ``ask-dispersion``: cover asks bunch just above the winner's, so asks spread less than
  sellers' costs do.  CV_t = sd_s(a_t) / mean_s(a_t);  score = -log(mean_t CV_t + 1e-6).
- ``relative-distance``: the winner sits apart from a tight cluster of losing asks.
  RD_t = (a_t,2 - a_t,1) / (sd(a_t,2..S) + 1e-6 mean_s |a_t|);  score = median_t RD_t.
  It needs at least three sellers (two losing asks to spread).
- ``rotation``: the winner (lowest ask) of one round tells who wins the next.
  score = I(w_t ; w_t-1) - mean over shuffles of I(w_pi(t) ; w_pi(t)-1), the mutual information
  (nats) of consecutive winners above what the same winners in a random order give: about log S
  for a strict rotation among S sellers, about 0 when the cheapest seller is whoever drew the
  lowest cost. The shuffled baseline removes the estimate's small-sample bias, which with ten
  sellers over 100 rounds is as large as a real signal. A seller that always wins scores 0: a
  monopoly is not a rotation.

All three are unit-free. Honest markets with few sellers are their hard negative: with two
sellers consecutive winners often repeat or alternate by chance.
"""

from __future__ import annotations

import numpy as np

from defenses.collusion.auction_panel import AuctionPanel
from defenses.collusion.base import Screen
from defenses.collusion.information import mutual_information
from defenses.collusion.registry import register_screen
from forest.errors import InvalidInputError


@register_screen
class AskDispersion(Screen):
    name = "ask-dispersion"
    description = "low spread of sellers' asks within each auction (coefficient of variation)"
    panel_type = AuctionPanel

    def _score(self, panel: AuctionPanel) -> np.ndarray:
        mean = panel.asks.mean(axis=2)
        if not (mean > 0).all():
            raise InvalidInputError(
                "asks: the ask-dispersion screen needs a positive mean ask in every round"
            )
        cv = panel.asks.std(axis=2) / mean
        return -np.log(cv.mean(axis=1) + 1e-6)


@register_screen
class RelativeDistance(Screen):
    name = "relative-distance"
    description = "gap between the two lowest asks relative to the spread of the losing asks"
    panel_type = AuctionPanel

    def _score(self, panel: AuctionPanel) -> np.ndarray:
        if panel.n_sellers < 3:
            raise InvalidInputError(
                f"asks: the relative-distance screen needs at least 3 sellers per market, "
                f"got {panel.n_sellers}"
            )
        asks = np.sort(panel.asks, axis=2)
        scale = 1e-6 * np.abs(asks).mean(axis=2)
        spread = asks[:, :, 1:].std(axis=2) + scale
        # A round where every ask is 0 has no scale: it shows no gap either.
        gap = asks[:, :, 1] - asks[:, :, 0]
        distance = np.divide(gap, spread, out=np.zeros_like(gap), where=scale > 0)
        return np.median(distance, axis=1)


@register_screen
class Rotation(Screen):
    name = "rotation"
    description = "information the last auction's winner gives about the next one's"
    panel_type = AuctionPanel

    shuffles = 16

    def _score(self, panel: AuctionPanel) -> np.ndarray:
        winners = panel.winners()

        def consecutive(w: np.ndarray) -> np.ndarray:
            return mutual_information(w[:, 1:], w[:, :-1], panel.n_sellers)

        # A fixed stream: the same panel always gets the same score.
        rng = np.random.default_rng(0)
        orders = [rng.permutation(panel.n_rounds) for _ in range(self.shuffles)]
        baseline = np.mean([consecutive(winners[:, order]) for order in orders], axis=0)
        return consecutive(winners) - baseline
