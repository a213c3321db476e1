"""The ``pricing`` economy: many independent logit-demand Bertrand oligopolies (Calvano 2020).

It is the ground truth for collusion work: every market's Nash and monopoly outcomes are solved
from its parameters, so a screen can say how far observed prices sit between competition and a
cartel. Agents ``m*k .. m*k+k-1`` (by ``uid``) are the ``k`` firms of market ``m``; each round
every firm picks a price index on a common grid, shifted by its market's common cost level.

Market-level state (cost levels, last mean price) is indexed by market, which ``relabel`` leaves
alone; each round gathers firms into ``(k, markets)`` arrays through their seats, so a relabelled
economy computes bit-for-bit the same market outcomes.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from scipy.special import logsumexp

from forest.economy.base import ROLE_ID, Economy, InteractionGraph, RoundResult, WelfareSurrogate
from forest.economy.messages import PRICE, Messages
from forest.economy.pricing_config import PricingConfig
from forest.economy.pricing_solver import BenchmarkTable, benchmark_table, logit_shares, price_grid
from forest.economy.registry import register_economy
from forest.errors import ConfigError

# Largest |exponent| a relative logit weight may have: exp(700) is near the float64 limit.
_MAX_EXPONENT = 700.0
# Round metrics that episode_metrics averages over rounds.
_EPISODE_METRICS = (
    "profit_gain",
    "mean_price",
    "nash_price",
    "monopoly_price",
    "mean_profit",
    "task_completion",
    "welfare",
)


def consumer_surplus(prices: np.ndarray, a: float, a0: float, mu: float) -> float:
    """Mean over markets of the logit consumers' expected surplus, ``mu * log(sum_j
    exp((a_j - p_j) / mu) + exp(a0 / mu))`` (Anderson, de Palma and Thisse 1992; per unit
    mass of consumers, up to a constant): prices (k, markets), firms on axis 0."""
    utility = (np.asarray(a, dtype=np.float64) - prices) / mu
    outside = np.full((1, prices.shape[1]), a0 / mu)
    return float((mu * logsumexp(np.concatenate([utility, outside]), axis=0)).mean())


@functools.lru_cache(maxsize=16)
def _benchmarks(
    quality: float, costs: tuple[float, ...], a0: float, mu: float, levels: tuple[float, ...]
) -> BenchmarkTable:
    """Solved once per distinct market, however many economies, seeds and relabellings use it."""
    return benchmark_table(np.full(len(costs), quality), costs, a0, mu, np.array(levels))


@register_economy
class Pricing(Economy):
    """Firms in ``n_agents / k`` independent oligopolies set prices on Calvano's grid."""

    name = "pricing"
    welfare_name = "consumer surplus per market-round"
    description = (
        "Many independent logit-demand Bertrand oligopolies (Calvano et al. 2020): firms pick "
        "prices on a grid between Nash and monopoly; expert = noisy best response to rivals' quotes"
    )
    config_class = PricingConfig
    observation_names = (
        "own_price",
        "rival_price",
        "rivals_heard",
        "market_price",
        "own_profit",
        "own_share",
        "own_cost",
        "cost_level",
    )
    agent_arrays = (
        "market",
        "seat",
        "last_price_index",
        "last_profit",
        "last_quantity",
        "cash",
        "rival_quote_count",
        "rival_quote_sum",
        "rival_weight_sum",
    )

    def __init__(self, config: PricingConfig, seed: int) -> None:
        super().__init__(config, seed)
        k = self.k = config.firms_per_market
        n = config.n_agents
        m = self.n_markets = n // k
        self.costs = np.array(config.firm_costs, dtype=np.float64)
        self.levels = config.cost_levels()
        bench = self.bench = _benchmarks(
            config.quality, config.firm_costs, config.outside_quality, config.mu, tuple(self.levels)
        )
        mean_level = len(self.levels) // 2
        nash, monopoly = bench.nash_prices[mean_level], bench.monopoly_prices[mean_level]
        if np.any(bench.monopoly_profits <= bench.nash_profits):
            raise ConfigError(
                "costs, quality, outside_quality, mu: expected a market in which every firm earns "
                "more under joint monopoly than at Nash (profit gain is undefined otherwise), got "
                f"costs={config.firm_costs!r}, quality={config.quality!r}, "
                f"outside_quality={config.outside_quality!r}, mu={config.mu!r}"
            )
        self.grid = price_grid(nash, monopoly, config.grid_points, config.grid_margin)
        # Profit benchmarks as (k, levels), so that a round gathers them straight into (k, M).
        self._nash_profits = np.ascontiguousarray(bench.nash_profits.T)
        self._monopoly_profits = np.ascontiguousarray(bench.monopoly_profits.T)
        self._set_logit_weights()
        # Units for observations, so that features are O(1) whatever the market's scale.
        self.gap = float(np.mean(monopoly - nash))
        self.nash_profit_scale = float(np.mean(bench.nash_profits[mean_level]))

        # Static seats; ``relabel`` permutes them with the agents. Agent uid u is firm u % k of
        # market u // k, and sits at flat position ``seat`` of the (k, markets) layout.
        self.market = self.uid // k
        self.seat = (self.uid % k) * m + self.market
        # Directed rival pairs by uid in canonical order, so that messages and the interaction
        # graph come out in the same order in a relabelled copy.
        uids = np.arange(n)
        others = np.array([np.delete(np.arange(k), p) for p in range(k)])
        self._pair_src = np.repeat(uids, k - 1)
        self._pair_dst = ((uids // k * k)[:, None] + others[uids % k]).ravel()

        # Markets start in the shock's stationary distribution, not all at the mean cost.
        start = config.cost_shock_sd * self.rng.standard_normal(m)
        self.cost_level_index = self._snap_to_level(start)
        self.last_price_index = self.rng.integers(0, config.grid_points, n)[self.uid]
        self.market_mean_index = self.by_market(self.last_price_index).mean(axis=0)
        self.last_profit = np.zeros(n)
        self.last_quantity = np.zeros(n)
        self.cash = np.zeros(n)
        self.rival_quote_count = np.zeros(n, dtype=np.int64)
        self.rival_quote_sum = np.zeros(n)
        self.rival_weight_sum = np.zeros(n)
        self._totals = dict.fromkeys(_EPISODE_METRICS, 0.0)

    def _set_logit_weights(self) -> None:
        """Logit weights relative to a firm at the cheapest grid price, for the best response.

        Working relative to that price keeps every firm's weight in (0, 1]; the checks make sure
        neither a firm's nor the outside good's relative weight leaves floating-point range.
        """
        cfg = self.config
        span = float(self.grid[-1] - self.grid[0])
        if span / cfg.mu > _MAX_EXPONENT:
            raise ConfigError(
                f"mu: expected at least {span / _MAX_EXPONENT:.3g} for a price grid spanning "
                f"{span:.3g} (logit weights would underflow), got {cfg.mu!r}"
            )
        outside_exponent = (cfg.outside_quality - cfg.quality + self.grid[0] + self.levels) / cfg.mu
        if outside_exponent.max() > _MAX_EXPONENT:
            bound = cfg.quality - self.grid[0] - self.levels.max() + _MAX_EXPONENT * cfg.mu
            raise ConfigError(
                f"outside_quality: expected at most {bound:.3g} (beyond it the outside good "
                f"swamps every firm), got {cfg.outside_quality!r}"
            )
        self.outside_weights = np.exp(outside_exponent)
        self.quote_weights = np.exp((self.grid[0] - self.grid) / cfg.mu)
        self._margin_weights = (self.grid - self.costs[:, None]) * self.quote_weights

    @property
    def n_actions(self) -> int:
        return self.config.grid_points

    @property
    def role(self) -> np.ndarray:
        return np.full(self.n_agents, ROLE_ID["firm"], dtype=np.int64)

    def by_market(self, per_agent: np.ndarray) -> np.ndarray:
        """Per-agent values (n, ...) as (k, markets, ...), firms on axis 0.

        Firms go on the short leading axis because numpy reduces across rows far faster than
        along rows of length k.
        """
        out = np.empty_like(per_agent)
        out[self.seat] = per_agent
        return out.reshape(self.k, self.n_markets, *per_agent.shape[1:])

    def to_agents(self, canonical: np.ndarray) -> np.ndarray:
        """The inverse of ``by_market``: (k, markets, ...) values back to (n, ...)."""
        return canonical.reshape(-1, *canonical.shape[2:])[self.seat]

    def market_benchmarks(self) -> dict[str, np.ndarray]:
        """(markets,) each market's Nash and monopoly price and profit this round, averaged over
        its firms, at the market's current cost level."""
        level = self.cost_level_index
        bench = self.bench
        return {
            "nash": bench.nash_prices.mean(axis=1)[level],
            "monopoly": bench.monopoly_prices.mean(axis=1)[level],
            "nash_profit": bench.nash_profits.mean(axis=1)[level],
            "monopoly_profit": bench.monopoly_profits.mean(axis=1)[level],
        }

    def _index_of_uid(self) -> np.ndarray:
        index = np.empty(self.n_agents, dtype=np.int64)
        index[self.uid] = np.arange(self.n_agents)
        return index

    def _snap_to_level(self, shift: np.ndarray) -> np.ndarray:
        """Nearest level: sampling the snapped AR(1) is exactly Tauchen's Markov chain."""
        if len(self.levels) == 1:
            return np.zeros(shift.shape, dtype=np.int64)
        step = self.levels[1] - self.levels[0]
        index = np.rint((shift - self.levels[0]) / step)
        return np.clip(index, 0, len(self.levels) - 1).astype(np.int64)

    def _advance_cost_shock(self) -> None:
        if len(self.levels) == 1:
            return
        shock = self.config.cost_shock_sigma * self.rng.standard_normal(self.n_markets)
        current = self.levels[self.cost_level_index]
        self.cost_level_index = self._snap_to_level(self.config.cost_shock_rho * current + shock)

    def _heard(self) -> np.ndarray:
        """Rivals heard from; a flood of quotes counts for no more than all ``k - 1`` rivals."""
        return np.minimum(self.rival_quote_count, self.k - 1)

    def _rival_weights(self) -> np.ndarray:
        """Each agent's rivals' summed logit weight (relative to the cheapest grid price).

        Quotes are averaged and stand for the rivals heard from; rivals not heard from are
        assumed to charge the market's last mean price, which is public.
        """
        heard = self._heard()
        mean_heard = self.rival_weight_sum / np.maximum(self.rival_quote_count, 1)
        step = self.grid[1] - self.grid[0]
        assumed = np.exp(-step * self.market_mean_index / self.config.mu)[self.market]
        return heard * mean_heard + (self.k - 1 - heard) * assumed

    def expert(self) -> tuple[np.ndarray, Messages]:
        """Best response on the grid to the rivals' quotes, one step off with small probability.

        The noise keeps the expert's data varied (a pure best response sits on one grid point),
        and its draws come in uid order so that a relabelled economy draws the same per firm.
        """
        cfg = self.config
        others = self.by_market(self._rival_weights())
        others += self.outside_weights[self.cost_level_index]
        # profit(g) = margin(g) * w(g) / (w(g) + others): the common exp factor cancels.
        profit = np.add.outer(others, self.quote_weights)
        np.divide(self._margin_weights[:, None, :], profit, out=profit)
        best = self.to_agents(profit.argmax(axis=2))
        draw = self.policy_rng.random(self.n_agents)[self.uid]
        noise = cfg.best_response_noise / 2
        step = (draw >= 1.0 - noise).astype(np.int64) - (draw < noise)
        actions = np.clip(best + step, 0, cfg.grid_points - 1)
        return actions, Messages.concat(self.quotes(actions), self.inbox.echoes())

    def quotes(self, actions: np.ndarray) -> Messages:
        """A PRICE message with the sender's price index to each rival in its market: firms
        that quote the price they charge."""
        sender, receiver = self.message_recipients()
        return Messages.make(PRICE, sender, receiver, actions[sender])

    def message_recipients(self) -> tuple[np.ndarray, np.ndarray]:
        """Every rival in the firm's market."""
        index = self._index_of_uid()
        return index[self._pair_src], index[self._pair_dst]

    def tree_ids(self) -> np.ndarray:
        return self.market.astype(np.int64)

    def are_neighbours(self, sender: np.ndarray, receiver: np.ndarray) -> np.ndarray:
        sender, receiver = np.asarray(sender), np.asarray(receiver)
        return (self.market[sender] == self.market[receiver]) & (sender != receiver)

    def interaction_graph(self) -> InteractionGraph:
        index = self._index_of_uid()
        return InteractionGraph(self.n_agents, index[self._pair_src], index[self._pair_dst])

    def _read_inbox(self) -> None:
        """Sum the price quotes each agent received; a quote past the grid reads as its end."""
        is_quote = self.inbox.kinds == PRICE
        receiver = self.inbox.receiver
        values = np.clip(self.inbox.values, 0, self.config.grid_points - 1)
        n = self.n_agents
        self.rival_quote_count = np.bincount(receiver[is_quote], minlength=n)
        self.rival_quote_sum = np.bincount(receiver, weights=values * is_quote, minlength=n)
        weights = self.quote_weights[values] * is_quote
        self.rival_weight_sum = np.bincount(receiver, weights=weights, minlength=n)

    def observe(self) -> np.ndarray:
        top = self.config.grid_points - 1
        heard = self._heard()
        mean_quote = self.rival_quote_sum / np.maximum(self.rival_quote_count, 1)
        market_index = self.market_mean_index[self.market]
        rival_index = heard * mean_quote + (self.k - 1 - heard) * market_index
        own_cost = self.costs[self.seat // self.n_markets]
        columns = (
            self.last_price_index / top,
            rival_index / ((self.k - 1) * top),
            heard / (self.k - 1),
            market_index / top,
            self.last_profit / self.nash_profit_scale,
            self.last_quantity,
            (own_cost - self.costs.mean()) / self.gap,
            self.levels[self.cost_level_index[self.market]] / self.gap,
        )
        return np.stack(columns, axis=1).astype(np.float32)

    def welfare_surrogate(self) -> WelfareSurrogate:
        """Consumer surplus per market at each firm's expected price this round: the step's
        own welfare, with the grid price a firm draws replaced by its mean."""
        cfg = self.config
        shift = self.levels[self.cost_level_index[self.market]]
        prices = torch.from_numpy((self.grid[None, :] + shift[:, None]).astype(np.float32))
        market = torch.from_numpy(self.market.astype(np.int64))
        outside = torch.full((self.n_markets, 1), cfg.outside_quality / cfg.mu)

        def welfare(probs: torch.Tensor) -> torch.Tensor:
            expected = (probs * prices).sum(dim=1)
            utility = (cfg.quality - expected) / cfg.mu  # (n,)
            by_market = torch.full((self.n_markets, self.k), -torch.inf)
            seat = torch.from_numpy((self.uid % self.k).astype(np.int64))
            by_market = by_market.index_put((market, seat), utility)
            return (cfg.mu * torch.cat([by_market, outside], dim=1).logsumexp(dim=1)).mean()

        return welfare

    def _transition(self, actions: np.ndarray) -> RoundResult:
        cfg = self.config
        index = self.by_market(actions)
        level = self.cost_level_index
        shift = self.levels[level]
        prices = self.grid[index] + shift
        shares, outside_share = logit_shares(
            prices, cfg.quality, cfg.outside_quality, cfg.mu, axis=0
        )
        profit = (prices - self.costs[:, None] - shift) * shares
        nash_profit = self._nash_profits.take(level, axis=1)
        gain = (profit - nash_profit) / (self._monopoly_profits.take(level, axis=1) - nash_profit)
        completed = profit >= (1.0 - cfg.completion_tolerance) * nash_profit

        self.last_price_index = actions
        self.last_profit = self.to_agents(profit)
        self.last_quantity = self.to_agents(shares)
        self.cash = self.cash + self.last_profit
        self.market_mean_index = index.mean(axis=0)

        metrics = {
            "profit_gain": float(gain.mean()),
            "mean_price": float(prices.mean()),
            "nash_price": float(self.bench.nash_prices.mean(axis=1)[level].mean()),
            "monopoly_price": float(self.bench.monopoly_prices.mean(axis=1)[level].mean()),
            "mean_profit": float(profit.mean()),
            "task_completion": float(completed.mean()),
            # Two books: what each market's consumers paid, and what each firm took in.
            "consumer_spending": float(np.einsum("km,km->", prices, shares)),
            # Not a BLAS dot (@): its threads busy-wait on the second core after each call.
            "firm_revenue": float(np.sum(self.to_agents(prices) * self.last_quantity)),
            "outside_share": float(outside_share.mean()),
            "mean_cost_level": float(shift.mean()),
            "welfare": float(consumer_surplus(prices, cfg.quality, cfg.outside_quality, cfg.mu)),
        }
        for name in _EPISODE_METRICS:
            self._totals[name] += metrics[name]
        self._advance_cost_shock()
        return RoundResult(self.to_agents(completed), metrics)

    def episode_metrics(self) -> dict[str, float]:
        """Means over firms and rounds played; NaN before the first round."""
        if self.round == 0:
            return dict.fromkeys(_EPISODE_METRICS, float("nan"))
        return {name: total / self.round for name, total in self._totals.items()}
