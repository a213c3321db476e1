"""A trading exchange: many independent markets of buyers and sellers with private values, each
cleared once a round by a uniform-price call auction.

Why a call auction: its efficient benchmark (the surplus-maximising matching of buyers to sellers)
follows from the true values alone, so allocative efficiency measures exactly how much surplus a
policy, or an attack on it, destroys.

Layout. The agent created with uid ``u`` is trader ``u % T`` of market ``u // T`` (``T`` =
``traders_per_market``); the first ``T/2`` traders of a market are buyers, the rest sellers. Each
round every buyer wants one unit and draws a private value, every seller can deliver one unit and
draws a private cost, both U[value_low, value_high], before the policy acts, so ``observe()``
shows each trader its own. The auction runs on canonical (uid-ordered) ``(markets, 2, T/2)``
arrays, so its outcome depends on uids, never on current indices: relabelling permutes the
trajectory.

Clearing. Bids sorted descending and asks ascending (ties by uid), ``q`` = the number of ranks
``k`` with ``bid_k >= ask_k``; the price is the midpoint of ``[max(ask_q, bid_(q+1)), min(bid_q,
ask_(q+1))]``, reading ``ask_0`` and ``bid_(T/2+1)`` as -inf, ``bid_0`` and ``ask_(T/2+1)`` as +inf
(so a market without trade posts the midpoint of its best bid and best ask). The ``q`` highest
bidders buy one unit each from the ``q`` lowest askers at that price, which lies in every trading
pair's ``[ask, bid]``.

Ledger. ``cash`` and ``units`` start at 0. Sellers produce to order, so ``units`` is a net
position: buyers hold ``units >= 0``, a seller's ``-units`` counts the units it delivered. Every
round ``sum(units) == 0`` exactly and ``sum(cash) == 0`` up to float rounding.

Task completion per agent and round: a trader in the efficient allocation (the max-surplus
matching of the true values and costs; with exact ties, any trader tied with the last one
matched counts as in it) completes when it trades at a non-negative profit; a trader outside it
completes when it does not trade at a loss.

Messages: the expert sends its chosen level ([BID, level] or [ASK, level]) to the next
``offer_fanout`` traders of its market cyclically, and echoes back what it received. A trader's
estimate of the clearing price is the mean level of the offers it received; the expert shades its
value towards it, and falls back on the market's last (public) clearing price when the channel is
cut.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
import torch

from forest.economy.base import ROLE_ID, Economy, InteractionGraph, RoundResult, WelfareSurrogate
from forest.economy.config import EconomyConfig
from forest.economy.messages import ASK, BID, MAX_MESSAGE_VALUE, Messages, encode
from forest.economy.registry import register_economy
from forest.validation import require, require_float, require_int


@dataclasses.dataclass(frozen=True)
class ExchangeConfig(EconomyConfig):
    n_agents: int = 500  # traders, in markets of ``traders_per_market``
    traders_per_market: int = 10  # even: half buyers, half sellers
    price_levels: int = 64  # action = level index; levels span [value_low, value_high] evenly
    value_low: float = 0.0  # private values are drawn uniformly from [value_low, value_high]
    value_high: float = 1.0  # ... each round afresh
    shading: float = 0.1  # share of its expected gain the expert gives up to bid below value
    offer_fanout: int = 3  # how many traders of its market each trader sends its offer to

    presets: ClassVar[dict[str, dict]] = {
        "default": {},
        "thin": {"traders_per_market": 4, "offer_fanout": 2},
        "thick": {"traders_per_market": 20, "offer_fanout": 5},
    }

    def validate(self) -> None:
        require_int(self.traders_per_market, "traders_per_market", 2, self.n_agents)
        require(
            self.traders_per_market % 2 == 0,
            "traders_per_market",
            "an even number (half buyers, half sellers)",
            self.traders_per_market,
        )
        require(
            self.n_agents % self.traders_per_market == 0,
            "n_agents",
            f"a multiple of traders_per_market={self.traders_per_market}",
            self.n_agents,
        )
        # A level must fit in one message value.
        require_int(self.price_levels, "price_levels", 2, MAX_MESSAGE_VALUE + 1)
        require_float(self.value_low, "value_low", -1e9, 1e9)
        require_float(self.value_high, "value_high", self.value_low, 1e9, low_open=True)
        require_float(self.shading, "shading", 0.0, 1.0)
        require_int(self.offer_fanout, "offer_fanout", 1, self.traders_per_market - 1)


def allocative_efficiency(realised: float, maximum: float) -> float:
    """Realised over maximal surplus, in [0, 1].

    Trades at a loss can push the realised surplus below zero; that reads as 0 (nothing of the
    available gain was realised), while the round metrics keep the signed surplus. With nothing
    to gain, a market is fully efficient unless it destroyed value.
    """
    if maximum <= 0.0:
        return 1.0 if realised >= 0.0 else 0.0
    return float(np.clip(realised / maximum, 0.0, 1.0))


# Buyers then sellers along axis 1 of the by-market arrays: buyers pay the price, sellers receive.
SIDE = np.array([-1, 1])[:, None]


def _first_ranked(keys: np.ndarray, ranked: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Cells among the ``count`` smallest ``keys`` of their row (``ranked`` = keys sorted).

    Keys tied with the last one included are included too; callers that need exactly ``count``
    make their keys unique first.
    """
    cutoff = np.take_along_axis(ranked, np.maximum(count - 1, 0), axis=-1)
    return (keys <= cutoff) & (count > 0)


@register_economy
class Exchange(Economy):
    name = "exchange"
    welfare_name = "realised surplus per market-round"
    description = "buyers and sellers with private values; uniform-price call auctions; efficiency"
    config_class = ExchangeConfig
    observation_names = (
        "value",  # own value (buyer) or cost (seller), scaled to [0, 1]
        "is_buyer",
        "offer_price",  # mean level of the offers received, scaled to [0, 1]; 0 if none
        "offers_heard",  # offers received / offer_fanout
        "last_price",  # the market's last clearing price, scaled to [0, 1]
        "traded",  # did it trade last round
        "profit",  # its profit last round, in units of the value range
    )
    agent_arrays = (
        "market",
        "is_buyer",
        "offer_receivers",
        "value",
        "cash",
        "units",
        "traded",
        "profit",
        "offer_level",
        "offers_heard",
    )
    agent_id_arrays = ("offer_receivers",)
    config: ExchangeConfig

    def __init__(self, config: ExchangeConfig, seed: int) -> None:
        super().__init__(config, seed)
        n, size = config.n_agents, config.traders_per_market
        self.n_markets = n // size
        # Fixed by uid, but stored per agent so that relabelling carries them along.
        self.market = self.uid // size
        seat = self.uid % size
        self.is_buyer = seat < size // 2
        cyclic_next = (seat[:, None] + np.arange(1, config.offer_fanout + 1)) % size
        self.offer_receivers = (self.uid - seat)[:, None] + cyclic_next  # agent ids, (n, fanout)
        self.cash = np.zeros(n)
        self.units = np.zeros(n, dtype=np.int64)
        self.traded = np.zeros(n, dtype=bool)
        self.profit = np.zeros(n)
        self.offer_level = np.zeros(n)
        self.offers_heard = np.zeros(n, dtype=np.int64)
        # Public: before any trade, the middle of the value range.
        self.market_price = np.full(self.n_markets, (config.value_low + config.value_high) / 2)
        self.value = self._draw_values()
        self._realised_surplus = 0.0
        self._max_surplus = 0.0
        self._units_traded = 0
        self._price_sum = 0.0
        self._completed = 0

    @property
    def n_actions(self) -> int:
        return self.config.price_levels

    @property
    def role(self) -> np.ndarray:
        return np.where(self.is_buyer, ROLE_ID["buyer"], ROLE_ID["seller"]).astype(np.int64)

    def price_of(self, levels: np.ndarray | float) -> np.ndarray:
        """The money price of (possibly fractional) level indices."""
        c = self.config
        step = (c.value_high - c.value_low) / (c.price_levels - 1)
        return c.value_low + np.asarray(levels) * step

    def _draw_values(self) -> np.ndarray:
        c = self.config
        return self.rng.uniform(c.value_low, c.value_high, c.n_agents)[self.uid]

    def _positions(self) -> np.ndarray:
        """``positions[u]`` is the current index of the agent with uid ``u``."""
        positions = np.empty(self.n_agents, dtype=np.int64)
        positions[self.uid] = np.arange(self.n_agents)
        return positions

    def by_market(self, per_agent: np.ndarray) -> np.ndarray:
        """(markets, 2, T/2) in uid order: [:, 0] the buyers, [:, 1] the sellers of each market."""
        canonical = np.empty_like(per_agent)
        canonical[self.uid] = per_agent
        return canonical.reshape(self.n_markets, 2, -1)

    def to_agents(self, by_market: np.ndarray) -> np.ndarray:
        """The inverse of ``by_market``: (markets, 2, T/2) values back to one per agent."""
        return by_market.reshape(-1)[self.uid]

    def observe(self) -> np.ndarray:
        c = self.config
        span = c.value_high - c.value_low
        columns = (
            (self.value - c.value_low) / span,
            self.is_buyer,
            self.offer_level / (c.price_levels - 1),
            self.offers_heard / c.offer_fanout,
            (self.market_price[self.market] - c.value_low) / span,
            self.traded,
            self.profit / span,
        )
        return np.column_stack(columns).astype(np.float32)

    def expert(self) -> tuple[np.ndarray, Messages]:
        """Near-truthful: give up ``shading`` of the gain expected at the estimated price."""
        c = self.config
        buyer = self.is_buyer
        estimate = np.where(
            self.offers_heard > 0,
            self.price_of(self.offer_level),
            self.market_price[self.market],
        )
        expected_gain = np.maximum(np.where(buyer, self.value - estimate, estimate - self.value), 0)
        target = self.value + np.where(buyer, -c.shading, c.shading) * expected_gain
        grid = (target - c.value_low) / (c.value_high - c.value_low) * (c.price_levels - 1)
        # Rounding towards the value keeps a truthful-minded trader from bidding into a loss.
        levels = np.where(buyer, np.floor(grid), np.ceil(grid))
        actions = np.clip(levels, 0, c.price_levels - 1).astype(np.int64)
        return actions, Messages.concat(self._offers(actions), self.inbox.echoes())

    def welfare_surrogate(self) -> WelfareSurrogate:
        """Realised surplus per market if every market cleared at last round's price: a buyer
        whose bid reaches it gains its value minus the price, a seller whose ask is under it
        the price minus its cost, in expectation over the offer distribution. It leaves out
        the step's rationing (the short side's traders trade first)."""
        price = self.market_price[self.market][:, None]  # (n, 1)
        levels = self.price_of(np.arange(self.n_actions))[None, :]  # (1, C)
        trades = np.where(self.is_buyer[:, None], levels >= price, levels <= price)
        gain = np.where(self.is_buyer, self.value - price[:, 0], price[:, 0] - self.value)
        payoff = torch.from_numpy((trades * gain[:, None]).astype(np.float32))

        def welfare(probs: torch.Tensor) -> torch.Tensor:
            return (probs * payoff).sum() / self.n_markets

        return welfare

    def _offers(self, actions: np.ndarray) -> Messages:
        """Each agent's level to the next ``offer_fanout`` traders of its market, cyclically."""
        return self.broadcast(encode(np.where(self.is_buyer, BID, ASK), actions))

    def message_recipients(self) -> tuple[np.ndarray, np.ndarray]:
        sender = np.repeat(np.arange(self.n_agents), self.config.offer_fanout)
        return sender, self.offer_receivers.flatten()

    def tree_ids(self) -> np.ndarray:
        return self.market.astype(np.int64)

    def are_neighbours(self, sender: np.ndarray, receiver: np.ndarray) -> np.ndarray:
        sender, receiver = np.asarray(sender), np.asarray(receiver)
        return (self.market.take(sender) == self.market.take(receiver)) & (sender != receiver)

    def interaction_graph(self) -> InteractionGraph:
        """Complete directed graph within each market: every offer can move every price in it."""
        size = self.config.traders_per_market
        seat_src, seat_dst = np.nonzero(~np.eye(size, dtype=bool))
        first = np.arange(self.n_markets)[:, None] * size
        positions = self._positions()
        src = positions[(first + seat_src).ravel()]
        dst = positions[(first + seat_dst).ravel()]
        return InteractionGraph(self.n_agents, src, dst)

    def _transition(self, actions: np.ndarray) -> RoundResult:
        top = self.config.price_levels - 1
        levels = self.by_market(actions)
        values = self.by_market(self.value)
        width = levels.shape[-1]
        # Keenness, lower first on both sides: high bids and low asks, high values and low costs.
        # Level keys are made unique per market (ties go to the lower uid) so that exactly
        # ``quantity`` traders of each side trade.
        level_keys = (SIDE * levels + top * (SIDE < 0)) * width + np.arange(width)
        keen_levels = np.sort(level_keys, axis=-1)
        bid_sorted, ask_sorted = top - keen_levels[:, 0] // width, keen_levels[:, 1] // width
        quantity = np.count_nonzero(bid_sorted >= ask_sorted, axis=1)[:, None, None]
        price = self.price_of(self._clearing_level(bid_sorted, ask_sorted, quantity[:, 0, 0]))
        price = price[:, None, None]
        traded = _first_ranked(level_keys, keen_levels, quantity)
        value_keys = SIDE * values
        profit = (SIDE * price - value_keys) * traded

        # The efficient allocation matches the highest values with the lowest costs while the
        # pair gains; traders tied with the last included one belong to an efficient one too.
        keen_values = np.sort(value_keys, axis=-1)
        pair_gain = -(keen_values[:, 0] + keen_values[:, 1])
        gains = pair_gain > 0
        efficient_quantity = np.count_nonzero(gains, axis=1)[:, None, None]
        efficient = _first_ranked(value_keys, keen_values, efficient_quantity)
        at_loss = traded & (profit < 0)
        completed = np.where(efficient, traded & ~at_loss, ~at_loss)
        realised = -float((value_keys * traded).sum())
        maximum = float((pair_gain * gains).sum())

        self.cash += (SIDE * price * traded).ravel()[self.uid]
        self.units -= (SIDE * traded).ravel()[self.uid]
        self.traded = traded.ravel()[self.uid]
        self.profit = profit.ravel()[self.uid]
        self.market_price = price.ravel()
        units_traded = int(quantity.sum())
        self._realised_surplus += realised
        self._max_surplus += maximum
        self._units_traded += units_traded
        self._price_sum += float(self.market_price.sum())
        self._completed += int(completed.sum())
        self.value = self._draw_values()

        task_completed = completed.ravel()[self.uid]
        metrics = {
            "allocative_efficiency": allocative_efficiency(realised, maximum),
            "realised_surplus": realised,
            "max_surplus": maximum,
            "trade_volume": units_traded / self.n_markets,
            "mean_clearing_price": float(self.market_price.mean()),
            "task_completion": float(task_completed.mean()),
            "welfare": realised / self.n_markets,
        }
        return RoundResult(task_completed, metrics)

    @staticmethod
    def _clearing_level(bids: np.ndarray, asks: np.ndarray, quantity: np.ndarray) -> np.ndarray:
        """Midpoint of each market's clearing interval, from sorted bids and asks (in levels)."""
        rows = np.arange(bids.shape[0])
        edge = np.full((bids.shape[0], 1), np.inf)
        # Padded so that index k holds rank k (1-based), with the edge conventions at 0 and q+1.
        bid_by_rank = np.hstack([edge, bids, -edge])
        ask_by_rank = np.hstack([-edge, asks, edge])
        low = np.maximum(ask_by_rank[rows, quantity], bid_by_rank[rows, quantity + 1])
        high = np.minimum(bid_by_rank[rows, quantity], ask_by_rank[rows, quantity + 1])
        return (low + high) / 2

    def _read_inbox(self) -> None:
        """Each agent's estimate of its market's clearing level: the mean offer it received."""
        kinds = self.inbox.kinds
        is_offer = (kinds == BID) | (kinds == ASK)
        receiver = self.inbox.receiver[is_offer]
        n = self.n_agents
        heard = np.bincount(receiver, minlength=n)
        level_sum = np.bincount(receiver, weights=self.inbox.values[is_offer], minlength=n)
        self.offers_heard = heard
        self.offer_level = np.divide(level_sum, heard, out=np.zeros(n), where=heard > 0)

    def episode_metrics(self) -> dict[str, float]:
        """Totals over all markets and rounds so far.

        Allocative efficiency pools surplus over markets and rounds; trade volume is units per
        market-round; the mean clearing price averages every market-round, including markets
        without trade, which post the midpoint of their best bid and best ask.
        """
        market_rounds = self.round * self.n_markets
        mean_price = (
            self._price_sum / market_rounds if market_rounds else float(self.market_price.mean())
        )
        return {
            "allocative_efficiency": allocative_efficiency(
                self._realised_surplus, self._max_surplus
            ),
            "trade_volume": self._units_traded / max(market_rounds, 1),
            "mean_clearing_price": mean_price,
            "task_completion": self._completed / max(self.round * self.n_agents, 1),
            "welfare": self._realised_surplus / max(market_rounds, 1),
        }
