"""What a bid-rigging screen reads: the sellers' asks in many auction markets over many rounds.

In the exchange every market holds a call auction each round; a sellers' cartel shows in how
its members' asks sit relative to each other round after round. Validated once here, like the
``PricePanel`` of the pricing screens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from defenses.collusion.panel import MIN_ROUNDS, as_finite
from forest.errors import InvalidInputError


@dataclass(frozen=True)
class AuctionPanel:
    """Asks ``(M, T, S)`` of ``S`` sellers in ``M`` markets over ``T`` rounds, in money units."""

    asks: np.ndarray

    def __post_init__(self) -> None:
        asks = as_finite(self.asks, "asks")
        if asks.ndim != 3:
            raise InvalidInputError(
                f"asks: expected shape (markets, rounds, sellers), got {asks.ndim} dimension(s)"
            )
        markets, rounds, sellers = asks.shape
        if markets < 1:
            raise InvalidInputError("asks: expected at least one market, got 0")
        if rounds < MIN_ROUNDS:
            raise InvalidInputError(
                f"asks: expected at least {MIN_ROUNDS} rounds per market, got {rounds}"
            )
        if sellers < 2:
            raise InvalidInputError(f"asks: expected at least 2 sellers per market, got {sellers}")
        object.__setattr__(self, "asks", asks)

    @property
    def n_markets(self) -> int:
        return self.asks.shape[0]

    @property
    def n_rounds(self) -> int:
        return self.asks.shape[1]

    @property
    def n_sellers(self) -> int:
        return self.asks.shape[2]

    def winners(self) -> np.ndarray:
        """(M, T) the seller with the lowest ask each round (the lowest seat among ties)."""
        return self.asks.argmin(axis=2)

    def rounds(self, start: int, stop: int | None = None) -> AuctionPanel:
        return AuctionPanel(self.asks[:, start:stop])

    def markets(self, index: np.ndarray) -> AuctionPanel:
        return AuctionPanel(self.asks[index])
