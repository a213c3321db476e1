"""Calvano's Q-learning pricing agents: the market they play, their start, their update rule,
determinism, and the compiled backend learning exactly what the numpy reference learns. The
learning result itself (Delta about 0.85) is measured by experiments/calvano_q_learning.py, and
the speed-up by experiments/q_learning_bench.py."""

import numpy as np
import pytest

from forest.economy.q_learning import (
    BACKENDS,
    Market,
    QLearningConfig,
    exploration_plan,
    greedy_prices,
    impulse_response,
    initial_q,
    state_index,
    train,
)
from forest.errors import ConfigError


def test_the_market_has_calvanos_benchmarks_and_grid():
    market = Market.build(QLearningConfig())
    assert market.profit_nash == pytest.approx(0.22293, abs=1e-5)
    assert market.profit_monopoly == pytest.approx(0.33749, abs=1e-5)
    gap = 1.92498 - 1.47293
    assert market.prices[0] == pytest.approx(1.47293 - 0.1 * gap, abs=1e-4)
    assert market.prices[-1] == pytest.approx(1.92498 + 0.1 * gap, abs=1e-4)
    assert market.profit_gain(np.array([0.22293, 0.33749])) == pytest.approx([0, 1], abs=1e-4)


def test_initial_q_is_each_prices_discounted_profit_against_uniform_rivals():
    config = QLearningConfig(points=5)
    market = Market.build(config)
    q = initial_q(config, market)
    table = market.profile_profits.reshape(5, 5, 2)
    assert q[0, 7, 3] == pytest.approx(table[3, :, 0].mean() / (1 - config.delta))
    assert q[1, 0, 2] == pytest.approx(table[:, 2, 1].mean() / (1 - config.delta))


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_period_follows_the_q_learning_update(backend):
    config = QLearningConfig(points=5, max_periods=1)
    learners, market = train(config, markets=1, seed=3, backend=backend)
    start = int(np.random.default_rng(3).integers(0, 25, size=1)[0])
    q0 = initial_q(config, market)
    moved = np.argwhere(learners.q[0] != q0)
    assert {int(firm) for firm, state, _ in moved} == {0, 1}
    actions = np.array([learners.state[0] // 5, learners.state[0] % 5])
    reward = market.profile_profits[learners.state[0]]
    for firm in range(2):
        assert (learners.q[0, firm] != q0[firm]).sum() == 1
        expected = (1 - config.alpha) * q0[firm, start, actions[firm]] + config.alpha * (
            reward[firm] + config.delta * q0[firm, learners.state[0]].max()
        )
        assert learners.q[0, firm, start, actions[firm]] == pytest.approx(expected)


def test_state_index_orders_firm_zero_first():
    assert state_index(np.array([[2, 3], [0, 4]]), 5).tolist() == [13, 4]


def test_the_same_seed_learns_the_same_tables_and_the_impulse_response_is_on_the_grid():
    config = QLearningConfig(points=5, max_periods=3000, check_every=100, stable_periods=500,
                             beta=1e-3)  # fmt: skip
    first, market = train(config, markets=4, seed=1)
    second, _ = train(config, markets=4, seed=1)
    assert np.array_equal(first.q, second.q)
    response = impulse_response(first, market, config.points, periods=5)
    assert response.shape == (7, 4, 2)
    assert response.min() >= 0 and response.max() < config.points


@pytest.mark.parametrize(
    ("n_firms", "points", "alpha", "delta"),
    [(2, 15, 0.15, 0.5), (3, 4, 0.3, 0.9)],  # Calvano's grid; three firms on a small one
)
def test_the_compiled_backend_learns_the_numpy_references_tables_bit_for_bit(
    n_firms, points, alpha, delta
):
    # Exploration decays within the run, so exploring and greedy periods are both compared, and
    # markets converge at different periods, so the convergence checks are compared too.
    config = QLearningConfig(
        n_firms=n_firms, points=points, alpha=alpha, delta=delta, beta=2e-3, max_periods=6000,
        check_every=100, stable_periods=500,
    )  # fmt: skip
    compiled, _ = train(config, markets=6, seed=5, backend="numba")
    reference, _ = train(config, markets=6, seed=5, backend="numpy")
    assert np.array_equal(compiled.q, reference.q)
    assert np.array_equal(compiled.state, reference.state)
    assert np.array_equal(compiled.converged_at, reference.converged_at)
    assert len(set(reference.converged_at.tolist())) > 1


def test_the_compiled_greedy_price_is_the_first_of_equal_maxima_as_in_numpy():
    from forest.economy.q_learning_numba import greedy_prices as compiled_greedy_prices

    q = np.random.default_rng(0).integers(0, 3, size=(3, 2, 9, 4)).astype(np.float64)  # ties
    assert np.array_equal(compiled_greedy_prices(q), greedy_prices(q))


def test_the_exploration_plan_explores_with_probability_exp_minus_beta_t():
    rng = np.random.default_rng(0)
    always = exploration_plan(rng, 1e-3, 0, periods=1, markets=2000, k=2, points=15)
    assert always.shape == (2000, 1, 2) and always.min() == 0 and always.max() == 14
    half = exploration_plan(rng, 1e-3, int(1000 * np.log(2)), periods=1, markets=20_000, k=2,
                            points=15)  # fmt: skip
    assert (half >= 0).mean() == pytest.approx(0.5, abs=0.01)
    never = exploration_plan(rng, 1e-3, 50_000, periods=10, markets=100, k=2, points=15)
    assert (never == -1).all()


def test_bad_settings_are_clear_errors():
    with pytest.raises(ConfigError, match="n_firms"):
        QLearningConfig(n_firms=1)
    with pytest.raises(ConfigError, match="delta"):
        QLearningConfig(delta=1.0)
    with pytest.raises(ConfigError, match="stable_periods"):
        QLearningConfig(stable_periods=10, check_every=100)
    with pytest.raises(ConfigError, match="backend"):
        train(QLearningConfig(max_periods=1), markets=1, seed=0, backend="torch")
