"""The Q-learning update of ``forest.economy.q_learning``, compiled with numba.

numpy has to take every period as a dozen gathers and scatters over all markets, each paying
numpy's per-call overhead; compiled, one market runs period after period in a plain loop with
its Q-tables in cache. The arithmetic is the numpy reference's, operation for operation and in
the same order (no fastmath), so both learn the same tables to the last bit.
"""

from __future__ import annotations

import numpy as np
from numba import njit


# Inlined by numba itself: as a call (which passes the array with its reference counting) the
# kernel ran about 1.3 times slower.
@njit(cache=True, inline="always")
def _greedy(q: np.ndarray, market: int, firm: int, state: int) -> tuple[int, float]:
    """numpy's argmax of one Q row (the first of equal maxima) and the row's maximum."""
    # The running maximum stays in a register (comparing against q[best] makes every step wait
    # for a load that depends on the step before: three times slower), and the two selects
    # compile to conditional moves rather than a branch that mispredicts on noisy Q-values.
    best, value = 0, q[market, firm, state, 0]
    for action in range(1, q.shape[3]):
        candidate = q[market, firm, state, action]
        better = candidate > value
        best = action if better else best
        value = candidate if better else value
    return best, value


@njit(cache=True)
def greedy_prices(q: np.ndarray) -> np.ndarray:
    """(M, k, S) every firm's greedy price index in every state: ``q.argmax(axis=3)``."""
    markets, k, states, _ = q.shape
    greedy = np.empty((markets, k, states), dtype=np.int64)
    for market in range(markets):
        for firm in range(k):
            for state in range(states):
                greedy[market, firm, state] = _greedy(q, market, firm, state)[0]
    return greedy


@njit(cache=True)
def learn_periods(
    q: np.ndarray,
    state: np.ndarray,
    plan: np.ndarray,
    profile_profits: np.ndarray,
    points: int,
    alpha: float,
    delta: float,
) -> None:
    """Run the periods of ``plan`` (M, T, k) on ``q`` (M, k, S, A) and ``state`` (M,), in place."""
    markets, periods, k = plan.shape
    actions = np.empty(k, dtype=np.int64)
    greedy = np.empty(k, dtype=np.int64)  # each firm's greedy price in the current state
    for market in range(markets):
        current = state[market]
        for firm in range(k):
            greedy[firm] = _greedy(q, market, firm, current)[0]
        for t in range(periods):
            following = 0
            for firm in range(k):
                action = np.int64(plan[market, t, firm])
                actions[firm] = greedy[firm] if action < 0 else action
                following = following * points + actions[firm]
            for firm in range(k):
                # The scan for the best next value also finds next period's greedy price: one
                # scan per firm and period instead of two.
                greedy_next, best_next = _greedy(q, market, firm, following)
                target = profile_profits[following, firm] + delta * best_next
                old = q[market, firm, current, actions[firm]]
                q[market, firm, current, actions[firm]] = old + alpha * (target - old)
                if following == current:  # the update just changed the row scanned
                    greedy_next = _greedy(q, market, firm, following)[0]
                greedy[firm] = greedy_next
            current = following
        state[market] = current
