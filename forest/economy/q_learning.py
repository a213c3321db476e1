"""Q-learning pricing agents (Calvano et al. 2020, AER), run over many markets at once.

Each of ``k`` firms in a logit Bertrand market keeps a Q-table over states (every firm's price
index last period: one-period memory, ``points ** k`` states) and actions (its own price index
on Calvano's grid from ``margin`` gaps below Nash to above monopoly). Every period each firm
explores with probability ``exp(-beta t)`` (uniform price) or plays its greedy price, earns its
logit-demand profit, and updates

    Q(s, a) <- (1 - alpha) Q(s, a) + alpha (profit + delta max_a' Q(s', a')).

Q starts at what each price earns, discounted, against rivals who price uniformly at random
(Calvano's initialisation). A market has converged when every firm's greedy strategy has not
changed for ``stable_periods`` periods (checked every ``check_every``). Nobody tells the firms to
collude: with ``delta`` 0.95 they learn supra-competitive prices that punish a deviation, with
``delta`` 0 (memoryless) they price far lower.

Markets are independent. Training runs on one of two backends that learn the same tables from
the same seed: ``numpy`` (the reference, every market in one vectorised step per period) and
``numba`` (``q_learning_numba``, the same update compiled, market by market; the default, 9 to
50 times faster, most at few markets: experiments/q_learning_bench.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from forest.economy.pricing_solver import price_grid, profits, solve_monopoly, solve_nash
from forest.validation import require, require_float, require_int


@dataclass(frozen=True)
class QLearningConfig:
    n_firms: int = 2
    points: int = 15
    margin: float = 0.1
    alpha: float = 0.15
    beta: float = 4e-6
    delta: float = 0.95
    a: float = 2.0
    a0: float = 0.0
    mu: float = 0.25
    c: float = 1.0
    stable_periods: int = 100_000
    check_every: int = 1_000
    max_periods: int = 3_000_000

    def __post_init__(self) -> None:
        require_int(self.n_firms, "n_firms", 2, 4)
        require_int(self.points, "points", 2, 100)
        require_float(self.margin, "margin", 0.0, 10.0)
        require_float(self.alpha, "alpha", 0.0, 1.0, low_open=True)
        require_float(self.beta, "beta", 0.0, 1.0, low_open=True)
        require_float(self.delta, "delta", 0.0, 0.999)
        require_float(self.mu, "mu", 0.0, 100.0, low_open=True)
        require_int(self.check_every, "check_every", 1, 10_000_000)
        require_int(self.stable_periods, "stable_periods", self.check_every, 100_000_000)
        require_int(self.max_periods, "max_periods", 1, 1_000_000_000)


@dataclass(frozen=True)
class Market:
    """The market the firms play: the price grid, every price profile's profits, benchmarks."""

    prices: np.ndarray  # (points,)
    profile_profits: np.ndarray  # (points ** k, k): profits of each joint price index profile
    profit_nash: float
    profit_monopoly: float
    price_nash: float
    price_monopoly: float

    @staticmethod
    def build(config: QLearningConfig) -> Market:
        k = config.n_firms
        a, c = np.full(k, config.a), np.full(k, config.c)
        nash = solve_nash(a, c, config.a0, config.mu)
        monopoly = solve_monopoly(a, c, config.a0, config.mu)
        grid = price_grid(nash.prices, monopoly.prices, config.points, config.margin)
        profiles = np.array(list(itertools.product(range(config.points), repeat=k)))
        table = profits(grid[profiles], a, c, config.a0, config.mu)
        return Market(
            grid, table, float(nash.profits.mean()), float(monopoly.profits.mean()),
            float(nash.prices.mean()), float(monopoly.prices.mean()),
        )  # fmt: skip

    def profit_gain(self, profit: np.ndarray) -> np.ndarray:
        """Calvano's Delta: 0 at the Nash profit, 1 at the monopoly profit."""
        return (profit - self.profit_nash) / (self.profit_monopoly - self.profit_nash)


def state_index(actions: np.ndarray, points: int) -> np.ndarray:
    """(M, k) price indices -> (M,) joint state index (firm 0 the most significant digit)."""
    k = actions.shape[1]
    weights = points ** np.arange(k - 1, -1, -1)
    return actions @ weights


def initial_q(config: QLearningConfig, market: Market) -> np.ndarray:
    """(k, S, A) Calvano's start: each price's profit against uniform rivals, / (1 - delta)."""
    k, points = config.n_firms, config.points
    by_firm = market.profile_profits.reshape((points,) * k + (k,))
    q = np.empty((k, points**k, points))
    for firm in range(k):
        others = tuple(axis for axis in range(k) if axis != firm)
        mean = by_firm[..., firm].mean(axis=others)  # (A,) own price -> expected profit
        q[firm] = mean[None, :] / (1.0 - config.delta)
    return q


@dataclass
class Learners:
    """Q-tables and the last state of ``M`` independent markets."""

    q: np.ndarray  # (M, k, S, A)
    state: np.ndarray  # (M,)
    periods: int
    converged_at: np.ndarray  # (M,) period each market converged, -1 if it has not

    def greedy(self) -> np.ndarray:
        """(M, k, S) every firm's greedy price index in every state."""
        return greedy_prices(self.q)


# How a seed's random numbers are laid out over periods and firms (``exploration_plan``); bump
# it when that changes, since a seed then learns other tables (caches key on it).
Q_LEARNING_DRAWS = 2


def exploration_plan(
    rng: np.random.Generator, beta: float, first_period: int, periods: int, markets: int, k: int,
    points: int,
) -> np.ndarray:  # fmt: skip
    """(M, T, k) int8: the price each firm explores with in each of ``periods`` periods from
    ``first_period``, -1 where it plays its greedy price.

    Drawn a block at a time, before the periods run, so that both backends consume the very same
    random numbers; a random price is drawn only for the firms that explore, which are few once
    ``exp(-beta t)`` has decayed."""
    chance = np.exp(-beta * np.arange(first_period, first_period + periods, dtype=np.float64))
    # One chance per firm-period in the draws' own order: a long inner loop for the comparison.
    explore = rng.random((markets, periods * k)) < np.repeat(chance, k)
    plan = np.full(explore.shape, -1, dtype=np.int8)  # points <= 100 fits in int8
    plan[explore] = rng.integers(0, points, size=np.count_nonzero(explore), dtype=np.int8)
    return plan.reshape(markets, periods, k)


def learn_periods(
    q: np.ndarray, state: np.ndarray, plan: np.ndarray, profile_profits: np.ndarray, points: int,
    alpha: float, delta: float,
) -> None:  # fmt: skip
    """The reference update: run the periods of ``plan`` (M, T, k) on ``q`` (M, k, S, A) and
    ``state`` (M,) in place, every market at once."""
    markets, periods, k = plan.shape
    rows, firms = np.arange(markets)[:, None], np.arange(k)[None, :]
    for t in range(periods):
        explored = plan[:, t]
        greedy = q[rows, firms, state[:, None]].argmax(axis=2)
        actions = np.where(explored >= 0, explored, greedy)
        following = state_index(actions, points)
        reward = profile_profits[following]  # (M, k)
        target = reward + delta * q[rows, firms, following[:, None]].max(axis=2)
        old = q[rows, firms, state[:, None], actions]
        q[rows, firms, state[:, None], actions] = old + alpha * (target - old)
        state[:] = following


def greedy_prices(q: np.ndarray) -> np.ndarray:
    """(M, k, S) every firm's greedy price index in every state."""
    return q.argmax(axis=3)


BACKENDS = ("numba", "numpy")
# The most firm-periods one exploration plan holds (20 MiB with its float64 draws and its mask):
# enough for up to 1,000 duopolies to run a whole check interval in one block, since every block
# brings each market's Q-tables back into cache. More markets end a block before the check.
PLAN_FIRM_PERIODS = 1 << 21


def train(
    config: QLearningConfig,
    markets: int,
    seed: int,
    on_check: Callable[[int, int], None] = lambda period, converged: None,
    backend: str = "numba",
) -> tuple[Learners, Market]:
    """Run ``markets`` markets until all converge or ``max_periods`` pass, on ``backend``
    "numba" or "numpy" (the same tables either way)."""
    require_int(markets, "markets", 1, 100_000)
    require(backend in BACKENDS, "backend", " or ".join(BACKENDS), backend)
    if backend == "numba":
        # Imported here so that only those who train pay for numba's import (half a second).
        from forest.economy import q_learning_numba as compiled

        learn, greedy = compiled.learn_periods, compiled.greedy_prices
    else:
        learn, greedy = learn_periods, greedy_prices
    market = Market.build(config)
    rng = np.random.default_rng(seed)
    k, points = config.n_firms, config.points
    q = np.broadcast_to(initial_q(config, market), (markets, k, points**k, points)).copy()
    state = rng.integers(0, points**k, size=markets)
    strategy = greedy(q)
    stable_since = np.zeros(markets, dtype=np.int64)
    converged_at = np.full(markets, -1, dtype=np.int64)
    block_limit = max(1, PLAN_FIRM_PERIODS // (markets * k))
    period = 0
    while period < config.max_periods and (converged_at < 0).any():
        next_check = (period // config.check_every + 1) * config.check_every
        block = min(next_check, config.max_periods, period + block_limit) - period
        plan = exploration_plan(rng, config.beta, period, block, markets, k, points)
        learn(q, state, plan, market.profile_profits, points, config.alpha, config.delta)
        period += block
        if period % config.check_every == 0:
            now = greedy(q)
            changed = (now != strategy).any(axis=(1, 2))
            strategy = now
            stable_since[changed] = period
            done = (period - stable_since >= config.stable_periods) & (converged_at < 0)
            converged_at[done] = period
            on_check(period, int((converged_at >= 0).sum()))
    return Learners(q, state, period, converged_at), market


def play_greedy(learners: Learners, points: int, periods: int, start: np.ndarray | None = None
                ) -> np.ndarray:  # fmt: skip
    """(periods, M, k) price indices when every firm plays its greedy strategy from ``start``
    (default: the markets' last states)."""
    strategy = learners.greedy()
    markets, k = strategy.shape[:2]
    rows, firms = np.arange(markets)[:, None], np.arange(k)[None, :]
    state = learners.state if start is None else start
    path = np.empty((periods, markets, k), dtype=np.int64)
    for t in range(periods):
        path[t] = strategy[rows, firms, state[:, None]]
        state = state_index(path[t], points)
    return path


def converged_profit_gain(learners: Learners, market: Market, points: int) -> np.ndarray:
    """(M,) Delta per market, averaged over firms and over the cycle greedy play settles in
    (the last 50 of 100 periods from the final state)."""
    path = play_greedy(learners, points, 100)[50:]
    profit = market.profile_profits[state_index(path.reshape(-1, path.shape[2]), points)]
    per_market = profit.reshape(path.shape[0], path.shape[1], -1).mean(axis=(0, 2))
    return market.profit_gain(per_market)


def impulse_response(
    learners: Learners, market: Market, points: int, periods: int = 15
) -> np.ndarray:
    """(periods + 2, M, k) prices: the converged cycle's last state, firm 0 forced to its static
    best response to its rivals for one period, then every firm greedy again: Calvano's test of
    whether the rivals punish the deviation and return."""
    settled = play_greedy(learners, points, 100)[-1]  # (M, k) a state on the cycle
    markets, k = settled.shape
    by_profile = market.profile_profits.reshape((points,) * k + (k,))
    deviate = settled.copy()
    for m in range(markets):
        rivals = tuple(settled[m, 1:])
        deviate[m, 0] = int(np.argmax(by_profile[(slice(None), *rivals, 0)]))
    after = play_greedy(learners, points, periods, start=state_index(deviate, points))
    return np.concatenate([settled[None], deviate[None], after]).astype(np.int64)
