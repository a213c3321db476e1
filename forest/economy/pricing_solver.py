"""Logit-demand Bertrand markets (Calvano et al. 2020): demand, profits and the two benchmarks.

The collusion screens judge prices against the competitive (Bertrand-Nash) and the collusive
(joint-monopoly) outcome of the very market the agents play, so both are computed from the
market's parameters here rather than copied from the paper: a different cost, quality or number
of firms moves them. Consumers choose one of ``k`` goods or an outside good, with utilities
``(a_i - p_i) / mu`` and ``a0 / mu`` and a type-1 extreme-value taste shock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, special

from forest.errors import InvalidInputError, SolverError

# How near zero the benchmarks' first-order conditions must come (relative to mu for Nash, in
# share units for the monopoly gradient): far below any price grid's resolution.
_FOC_TOLERANCE = 1e-7
_BEST_RESPONSE_ROUNDS = 20


@dataclass(frozen=True)
class MarketOutcome:
    """Prices, profits and inside shares of each firm at one benchmark (arrays of shape (k,))."""

    prices: np.ndarray
    profits: np.ndarray
    shares: np.ndarray

    @property
    def joint_profit(self) -> float:
        return float(self.profits.sum())


@dataclass(frozen=True)
class BenchmarkTable:
    """Nash and monopoly outcomes for each common cost shift: arrays of shape (levels, k)."""

    cost_shifts: np.ndarray
    nash_prices: np.ndarray
    nash_profits: np.ndarray
    monopoly_prices: np.ndarray
    monopoly_profits: np.ndarray


def logit_shares(
    prices: np.ndarray, a: Any, a0: Any, mu: float, axis: int = -1
) -> tuple[np.ndarray, np.ndarray]:
    """Inside shares (shape of ``prices``) and the outside good's share (``axis`` removed).

    Firms lie along ``axis`` (``a`` broadcasts against ``prices``) and markets along the others;
    ``a0`` is a scalar or one value per market. Exponents are shifted by each market's largest
    utility (log-sum-exp), so no term overflows whatever the scale of ``a / mu``. This is the
    per-round hot path of the economy, so it does not validate its arguments.
    """
    utility = (np.asarray(a) - prices) / mu
    market_shape = np.delete(utility.shape, axis)
    outside = np.broadcast_to(np.asarray(a0, dtype=np.float64) / mu, tuple(market_shape))
    top = np.maximum(utility.max(axis=axis), outside)
    inside = np.exp(utility - np.expand_dims(top, axis))
    outside_weight = np.exp(outside - top)
    total = inside.sum(axis=axis) + outside_weight
    return inside / np.expand_dims(total, axis), outside_weight / total


def profits(prices: np.ndarray, a: Any, c: Any, a0: Any, mu: float) -> np.ndarray:
    """Each firm's profit ``(p_i - c_i) q_i`` with a unit mass of consumers per market."""
    shares, _ = logit_shares(prices, a, a0, mu)
    return (prices - np.asarray(c)) * shares


def _market(a: Any, c: Any, a0: Any, mu: Any) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Validated market parameters; ``a`` and ``c`` broadcast to one value per firm."""
    for name, value in (("a0", a0), ("mu", mu)):
        is_number = isinstance(value, int | float | np.integer | np.floating)
        if isinstance(value, bool) or not is_number or not np.isfinite(value):
            raise InvalidInputError(f"{name}: expected a finite number, got {value!r}")
    if mu <= 0:
        raise InvalidInputError(f"mu: expected a number > 0, got {mu!r}")
    try:
        a_arr, c_arr = np.broadcast_arrays(
            np.asarray(a, dtype=np.float64), np.asarray(c, dtype=np.float64)
        )
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"a, c: expected one value per firm, got {exc}") from None
    if a_arr.ndim != 1 or a_arr.size == 0:
        raise InvalidInputError(f"a, c: expected 1-D arrays over firms, got shape {a_arr.shape}")
    for name, arr in (("a", a_arr), ("c", c_arr)):
        if not np.all(np.isfinite(arr)):
            raise InvalidInputError(f"{name}: expected finite values, got {arr}")
    return a_arr.copy(), c_arr.copy(), float(a0), float(mu)


def _outcome(
    prices: np.ndarray, a: np.ndarray, c: np.ndarray, a0: float, mu: float
) -> MarketOutcome:
    shares, _ = logit_shares(prices, a, a0, mu)
    arrays = (prices.copy(), (prices - c) * shares, shares)
    for arr in arrays:
        arr.flags.writeable = False
    return MarketOutcome(*arrays)


def _describe(a: np.ndarray, c: np.ndarray, a0: float, mu: float) -> str:
    return f"a={a.tolist()}, c={c.tolist()}, a0={a0}, mu={mu}"


def nash_residual(prices: np.ndarray, a: Any, c: Any, a0: Any, mu: float) -> np.ndarray:
    """Each firm's first-order condition ``(p_i - c_i)(1 - q_i) - mu``: zero at Bertrand-Nash.

    Written without the division in ``p_i = c_i + mu / (1 - q_i)`` so that it stays smooth where
    a firm's share approaches one.
    """
    shares, _ = logit_shares(prices, a, a0, mu)
    return (prices - np.asarray(c)) * (1.0 - shares) - mu


def _utilities(
    markups: np.ndarray, a: np.ndarray, c: np.ndarray, a0: float, mu: float
) -> np.ndarray:
    """The firms' utilities at ``c + markups`` followed by the outside good's."""
    return np.append((a - c - markups) / mu, a0 / mu)


def _log_rest(utility: np.ndarray, k: int) -> np.ndarray:
    """Per firm, the log of the summed logit weight of its rivals and the outside good."""
    rivals_and_outside = 1.0 - np.eye(k, utility.size)
    weights = np.broadcast_to(utility, rivals_and_outside.shape)
    return special.logsumexp(weights, axis=1, b=rivals_and_outside)


def _log_markup_residual(
    log_markup: np.ndarray, a: np.ndarray, c: np.ndarray, a0: float, mu: float
) -> np.ndarray:
    """The first-order condition as ``log(p_i - c_i) + log(1 - q_i) - log(mu)``.

    In log markups the condition is nearly linear in both tails (in prices it flattens out where
    one firm takes the whole market), so the root finder does not stall, and markups stay positive.
    """
    utility = _utilities(np.exp(log_markup), a, c, a0, mu)
    return log_markup + _log_rest(utility, a.size) - special.logsumexp(utility) - np.log(mu)


def _best_response_markups(
    markups: np.ndarray, a: np.ndarray, c: np.ndarray, a0: float, mu: float
) -> np.ndarray:
    """Each firm's profit-maximising markup given the others' current markups.

    With ``z = m / mu - 1`` the firm's condition reads ``z e^z = e^y``, so ``z`` is the Wright
    omega function of ``y``: closed form, and stable where ``e^y`` itself would overflow.
    """
    log_rest = _log_rest(_utilities(markups, a, c, a0, mu), a.size)
    return mu * (1.0 + special.wrightomega((a - c) / mu - 1.0 - log_rest).real)


def solve_nash(a: Any, c: Any, a0: float, mu: float) -> MarketOutcome:
    """The Bertrand-Nash equilibrium: every firm's price is a best response to the others'.

    Raises SolverError when the root finder fails, rather than returning prices that are
    not an equilibrium: a wrong benchmark would silently mislabel collusion.
    """
    a, c, a0, mu = _market(a, c, a0, mu)
    # Best-response rounds from markup mu climb towards Nash (prices are strategic
    # complements); a few give the root finder a start inside its basin whatever the scale.
    markups = np.full(a.size, mu)
    for _ in range(_BEST_RESPONSE_ROUNDS):
        markups = _best_response_markups(markups, a, c, a0, mu)
    start = np.log(markups)
    result = optimize.root(_log_markup_residual, start, args=(a, c, a0, mu), tol=1e-13)
    prices = c + np.exp(result.x)
    # Judged by the residual, not result.success: hybr reports "no progress" when it starts
    # or lands within rounding of the root.
    residual = np.max(np.abs(nash_residual(prices, a, c, a0, mu)))
    if not residual <= _FOC_TOLERANCE * mu:
        raise SolverError(
            f"solve_nash: no Bertrand-Nash equilibrium found for {_describe(a, c, a0, mu)} "
            f"(largest first-order residual {residual:.3g}: {result.message})"
        )
    return _outcome(prices, a, c, a0, mu)


def _negative_joint_profit(
    prices: np.ndarray, a: np.ndarray, c: np.ndarray, a0: float, mu: float
) -> tuple[float, np.ndarray]:
    """Minus the joint profit and its gradient ``-q_i (1 - (m_i - joint) / mu)``."""
    shares, _ = logit_shares(prices, a, a0, mu)
    markups = prices - c
    joint = float(markups @ shares)
    return -joint, -shares * (1.0 - (markups - joint) / mu)


def _common_markup(a: np.ndarray, c: np.ndarray, a0: float, mu: float) -> float:
    """The markup ``m`` with ``m (1 - Q) = mu`` when every firm charges ``c_i + m``.

    A logit multiproduct monopolist's optimum has one common markup, equal to ``mu`` plus the
    joint profit; in log markup the condition is strictly increasing, so bracketing is safe.
    """

    def condition(log_markup: float) -> float:
        utility = _utilities(np.exp(log_markup), a, c, a0, mu)
        return log_markup + utility[-1] - special.logsumexp(utility) - np.log(mu)

    low = high = np.log(mu) - 1.0
    while condition(high) < 0:
        high += 1.0
    return float(np.exp(optimize.brentq(condition, low, high, xtol=1e-14)))


def solve_monopoly(a: Any, c: Any, a0: float, mu: float) -> MarketOutcome:
    """The prices that maximise the firms' joint profit (a perfect cartel).

    Starts BFGS from the common-markup solution and checks that the joint profit's gradient
    vanishes where it stops; a product with no demand has no gradient, so its price stays at
    the common markup, which is where the limit of the cartel's problem puts it. Raises
    SolverError when the optimiser does not reach a stationary point.
    """
    a, c, a0, mu = _market(a, c, a0, mu)
    start = c + _common_markup(a, c, a0, mu)
    result = optimize.minimize(
        _negative_joint_profit,
        start,
        args=(a, c, a0, mu),
        jac=True,
        method="BFGS",
        options={"gtol": 1e-12},
    )
    # BFGS often stops on "precision loss" at the optimum, so the gradient decides.
    gradient = np.max(np.abs(_negative_joint_profit(result.x, a, c, a0, mu)[1]))
    if not gradient <= _FOC_TOLERANCE:
        raise SolverError(
            f"solve_monopoly: joint-profit maximisation failed for {_describe(a, c, a0, mu)} "
            f"(largest joint-profit gradient {gradient:.3g}: {result.message})"
        )
    return _outcome(result.x, a, c, a0, mu)


def benchmark_table(
    a: Any, c: Any, a0: float, mu: float, cost_shifts: np.ndarray
) -> BenchmarkTable:
    """Nash and monopoly outcomes with every firm's cost raised by each of ``cost_shifts``.

    A market's benchmarks depend on its common cost level, so an economy with cost shocks
    solves them once per discrete level here instead of once per market and round.
    """
    cost_shifts = np.asarray(cost_shifts, dtype=np.float64)
    c = np.asarray(c, dtype=np.float64)
    nash = [solve_nash(a, c + shift, a0, mu) for shift in cost_shifts]
    monopoly = [solve_monopoly(a, c + shift, a0, mu) for shift in cost_shifts]
    arrays = (
        cost_shifts.copy(),
        np.stack([o.prices for o in nash]),
        np.stack([o.profits for o in nash]),
        np.stack([o.prices for o in monopoly]),
        np.stack([o.profits for o in monopoly]),
    )
    for arr in arrays:
        arr.flags.writeable = False
    return BenchmarkTable(*arrays)


def price_grid(p_nash: Any, p_monopoly: Any, points: int = 15, margin: float = 0.1) -> np.ndarray:
    """Calvano's action grid: ``points`` prices from ``margin`` gaps below Nash to above monopoly.

    With asymmetric firms the grid is shared, so it spans the mean Nash and mean monopoly price.
    """
    low, high = float(np.mean(p_nash)), float(np.mean(p_monopoly))
    if not (np.isfinite(low) and np.isfinite(high) and high > low):
        raise InvalidInputError(
            f"p_monopoly: expected a finite mean above p_nash's {low!r}, got {high!r}"
        )
    if isinstance(points, bool) or not isinstance(points, int | np.integer) or points < 2:
        raise InvalidInputError(f"points: expected an integer >= 2, got {points!r}")
    if not (np.isfinite(margin) and margin >= 0):
        raise InvalidInputError(f"margin: expected a finite number >= 0, got {margin!r}")
    gap = high - low
    return np.linspace(low - margin * gap, high + margin * gap, int(points))
