"""What a collusion screen reads: the prices of many markets over many rounds, with benchmarks.

Screens look at markets from the outside, as a competition authority would: each market's firms'
prices round by round, the competitive (Bertrand-Nash) and collusive (joint-monopoly) price of
that market in that round, and where known, profits, the messages firms sent and what a forced
deviation did. Everything is validated once here, so that a screen can trust its input and a
caller with a malformed series gets one clear line instead of a NaN score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forest.errors import InvalidInputError

# Shortest series a screen accepts: lagged regressions and change statistics need a few rounds.
MIN_ROUNDS = 8


def as_finite(array: object, name: str) -> np.ndarray:
    try:
        out = np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise InvalidInputError(f"{name}: expected numbers, got {type(array).__name__}") from error
    if not np.isfinite(out).all():
        raise InvalidInputError(f"{name}: expected finite numbers, found NaN or infinity")
    return out


def _per_market_round(value: object, name: str, markets: int, rounds: int) -> np.ndarray:
    """A benchmark given for all markets (a number), per market (M,) or per market and round
    (M, T), as (M, T)."""
    array = as_finite(value, name)
    if array.ndim == 0:
        return np.full((markets, rounds), float(array))
    if array.shape == (markets,):
        return np.repeat(array[:, None], rounds, axis=1)
    if array.shape != (markets, rounds):
        raise InvalidInputError(
            f"{name}: expected a number or shape ({markets},) or ({markets}, {rounds}), "
            f"got {array.shape}"
        )
    return array


@dataclass(frozen=True)
class PricePanel:
    """Prices ``(M, T, k)`` of ``k`` firms in ``M`` markets over ``T`` rounds, and benchmarks.

    ``nash`` and ``monopoly`` are each market's mean competitive and collusive price: one number
    for all markets, per market ``(M,)``, or per round ``(M, T)`` when costs or demand move.
    ``profits`` (same shape as prices) with ``nash_profit`` and ``monopoly_profit`` allow the
    profit-gain screen; ``quotes`` (same shape) are the prices firms announced to their rivals
    in their messages that round; ``probed`` (same shape) are the prices of the same markets
    replayed with firm 0 forced to deviate in round ``deviation_round`` (the punishment probe);
    ``summaries`` ``(M, T, k, d)`` are the firms' summary tokens when a forest played the markets.
    """

    prices: np.ndarray
    nash: np.ndarray
    monopoly: np.ndarray
    profits: np.ndarray | None = None
    nash_profit: np.ndarray | None = None
    monopoly_profit: np.ndarray | None = None
    quotes: np.ndarray | None = None
    probed: np.ndarray | None = None
    deviation_round: int | None = None
    summaries: np.ndarray | None = None

    def __post_init__(self) -> None:
        prices = as_finite(self.prices, "prices")
        if prices.ndim != 3:
            raise InvalidInputError(
                f"prices: expected shape (markets, rounds, firms), got {prices.ndim} dimension(s)"
            )
        markets, rounds, firms = prices.shape
        if markets < 1:
            raise InvalidInputError("prices: expected at least one market, got 0")
        if rounds < MIN_ROUNDS:
            raise InvalidInputError(
                f"prices: expected at least {MIN_ROUNDS} rounds per market, got {rounds}"
            )
        if firms < 2:
            raise InvalidInputError(f"prices: expected at least 2 firms per market, got {firms}")
        nash = _per_market_round(self.nash, "nash", markets, rounds)
        monopoly = _per_market_round(self.monopoly, "monopoly", markets, rounds)
        if not (monopoly > nash).all():
            raise InvalidInputError("monopoly: expected above the nash price in every market")
        object.__setattr__(self, "prices", prices)
        object.__setattr__(self, "nash", nash)
        object.__setattr__(self, "monopoly", monopoly)
        profit_fields = (self.profits, self.nash_profit, self.monopoly_profit)
        if any(f is not None for f in profit_fields):
            if any(f is None for f in profit_fields):
                raise InvalidInputError(
                    "profits: give profits, nash_profit and monopoly_profit together"
                )
            profits = as_finite(self.profits, "profits")
            if profits.shape != prices.shape:
                raise InvalidInputError(
                    f"profits: expected the shape of prices {prices.shape}, got {profits.shape}"
                )
            low = _per_market_round(self.nash_profit, "nash_profit", markets, rounds)
            high = _per_market_round(self.monopoly_profit, "monopoly_profit", markets, rounds)
            if not (high > low).all():
                raise InvalidInputError(
                    "monopoly_profit: expected above nash_profit in every market"
                )
            object.__setattr__(self, "profits", profits)
            object.__setattr__(self, "nash_profit", low)
            object.__setattr__(self, "monopoly_profit", high)
        if self.quotes is not None:
            quotes = as_finite(self.quotes, "quotes")
            if quotes.shape != prices.shape:
                raise InvalidInputError(
                    f"quotes: expected the shape of prices {prices.shape}, got {quotes.shape}"
                )
            object.__setattr__(self, "quotes", quotes)
        if (self.probed is None) != (self.deviation_round is None):
            raise InvalidInputError("probed: give probed and deviation_round together")
        if self.probed is not None:
            probed = as_finite(self.probed, "probed")
            if probed.shape != prices.shape:
                raise InvalidInputError(
                    f"probed: expected the shape of prices {prices.shape}, got {probed.shape}"
                )
            d = self.deviation_round
            if isinstance(d, bool) or not isinstance(d, int | np.integer) or not 0 <= d < rounds:
                raise InvalidInputError(
                    f"deviation_round: expected an integer in [0, {rounds - 1}], got {d!r}"
                )
            object.__setattr__(self, "probed", probed)
        if self.summaries is not None:
            tokens = np.asarray(self.summaries)
            if tokens.ndim != 4 or tokens.shape[:3] != prices.shape:
                raise InvalidInputError(
                    f"summaries: expected shape {prices.shape} + (hidden,), got {tokens.shape}"
                )
            if not np.isfinite(tokens).all():
                raise InvalidInputError("summaries: expected finite numbers, found NaN or infinity")
            object.__setattr__(self, "summaries", tokens)

    @property
    def n_markets(self) -> int:
        return self.prices.shape[0]

    @property
    def n_rounds(self) -> int:
        return self.prices.shape[1]

    @property
    def n_firms(self) -> int:
        return self.prices.shape[2]

    def normalised_prices(self) -> np.ndarray:
        """(M, T, k) ``(p - p_N) / (p_M - p_N)``: 0 at competition, 1 at joint monopoly."""
        gap = (self.monopoly - self.nash)[:, :, None]
        return (self.prices - self.nash[:, :, None]) / gap

    def rounds(self, start: int, stop: int | None = None) -> PricePanel:
        """The same markets restricted to rounds ``[start, stop)``; the probe stays if its
        deviation falls inside them."""
        cut = slice(start, stop)
        kept = range(self.n_rounds)[cut]

        def part(array: np.ndarray | None) -> np.ndarray | None:
            return None if array is None else array[:, cut]

        probe = self.probed is not None and self.deviation_round in kept
        return PricePanel(
            self.prices[:, cut], self.nash[:, cut], self.monopoly[:, cut], part(self.profits),
            part(self.nash_profit), part(self.monopoly_profit), part(self.quotes),
            part(self.probed) if probe else None,
            self.deviation_round - kept.start if probe else None, part(self.summaries),
        )  # fmt: skip

    def require(self, what: str, screen: str) -> np.ndarray:
        """The optional series ``what`` (profits, quotes, probed, summaries), or a clear error."""
        value = getattr(self, what)
        if value is None:
            raise InvalidInputError(f"{what}: the {screen} screen needs {what}, the panel has none")
        return value

    def markets(self, index: np.ndarray) -> PricePanel:
        """A panel of the markets ``index`` (in that order)."""

        def part(array: np.ndarray | None) -> np.ndarray | None:
            return None if array is None else array[index]

        return PricePanel(
            self.prices[index], self.nash[index], self.monopoly[index], part(self.profits),
            part(self.nash_profit), part(self.monopoly_profit), part(self.quotes),
            part(self.probed), self.deviation_round, part(self.summaries),
        )  # fmt: skip
