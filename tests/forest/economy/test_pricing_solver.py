import numpy as np
import pytest
from budget import examples
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize

from forest.economy.pricing_solver import (
    benchmark_table,
    logit_shares,
    nash_residual,
    price_grid,
    profits,
    solve_monopoly,
    solve_nash,
)

FAST = settings(max_examples=examples(25), deadline=None)

# Calvano, Calzolari, Denicolò and Pastorello (2020): a = 2, a0 = 0, mu = 0.25, c = 1.
CALVANO = {"a0": 0.0, "mu": 0.25}


@st.composite
def markets(draw):
    """Random markets of 2-5 firms with qualities, costs and mu in a sensible economic range."""
    k = draw(st.integers(2, 5))
    a = np.array(draw(st.lists(st.floats(1.0, 3.0), min_size=k, max_size=k)))
    c = np.array(draw(st.lists(st.floats(0.0, 1.5), min_size=k, max_size=k)))
    return a, c, draw(st.floats(-1.0, 1.0)), draw(st.floats(0.05, 1.0))


def test_duopoly_benchmarks_match_calvano():
    nash = solve_nash([2.0, 2.0], [1.0, 1.0], **CALVANO)
    monopoly = solve_monopoly([2.0, 2.0], [1.0, 1.0], **CALVANO)
    np.testing.assert_allclose(nash.prices, 1.4729, atol=1e-3)
    np.testing.assert_allclose(monopoly.prices, 1.9250, atol=1e-3)
    np.testing.assert_allclose(nash.profits, 0.2229, atol=1e-3)
    np.testing.assert_allclose(monopoly.profits, 0.3375, atol=1e-3)


@pytest.mark.parametrize(("k", "p_nash", "p_monopoly"), [(3, 1.3702, 2.000), (4, 1.3315, 2.0544)])
def test_three_and_four_firm_benchmarks_match_calvano(k, p_nash, p_monopoly):
    a, c = np.full(k, 2.0), np.full(k, 1.0)
    np.testing.assert_allclose(solve_nash(a, c, **CALVANO).prices, p_nash, atol=1e-3)
    np.testing.assert_allclose(solve_monopoly(a, c, **CALVANO).prices, p_monopoly, atol=1e-3)


@FAST
@given(markets())
def test_nash_prices_zero_every_first_order_condition(market):
    a, c, a0, mu = market
    nash = solve_nash(a, c, a0, mu)
    assert np.max(np.abs(nash_residual(nash.prices, a, c, a0, mu))) < 1e-6 * mu


@FAST
@given(markets())
def test_no_firm_gains_by_moving_its_own_price_near_nash(market):
    a, c, a0, mu = market
    nash = solve_nash(a, c, a0, mu)
    deviations = np.linspace(-0.2, 0.2, 81) * mu
    for firm in range(len(a)):
        prices = np.tile(nash.prices, (deviations.size, 1))
        prices[:, firm] += deviations
        gained = profits(prices, a, c, a0, mu)[:, firm] - nash.profits[firm]
        assert gained.max() <= 1e-12


def test_grid_best_response_to_rivals_at_nash_is_a_grid_point_next_to_nash():
    a, c = np.full(2, 2.0), np.full(2, 1.0)
    nash, monopoly = solve_nash(a, c, **CALVANO), solve_monopoly(a, c, **CALVANO)
    grid = price_grid(nash.prices, monopoly.prices)
    prices = np.column_stack([grid, np.full(grid.size, nash.prices[1])])
    best = grid[profits(prices, a, c, **CALVANO)[:, 0].argmax()]
    below, above = grid[grid <= nash.prices[0]].max(), grid[grid >= nash.prices[0]].min()
    assert best in (below, above)


@FAST
@given(markets())
def test_monopoly_joint_profit_is_at_least_nash_joint_profit(market):
    a, c, a0, mu = market
    nash, monopoly = solve_nash(a, c, a0, mu), solve_monopoly(a, c, a0, mu)
    assert monopoly.joint_profit >= nash.joint_profit - 1e-12
    # The logit multiproduct monopolist's signature: one common markup over cost.
    markups = monopoly.prices - c
    np.testing.assert_allclose(markups, markups[0], rtol=1e-5)


@FAST
@given(
    prices=st.lists(st.floats(-50.0, 50.0), min_size=1, max_size=6),
    a=st.floats(-50.0, 50.0),
    a0=st.floats(-50.0, 50.0),
    mu=st.floats(1e-3, 10.0),
)
def test_inside_and_outside_shares_sum_to_one_even_at_extreme_utilities(prices, a, a0, mu):
    shares, outside = logit_shares(np.array(prices), a, a0, mu)
    assert np.all(np.isfinite(shares)) and np.isfinite(outside)
    assert shares.sum() + outside == pytest.approx(1.0, abs=1e-12)


def test_logit_shares_treat_the_chosen_axis_as_firms():
    rng = np.random.default_rng(0)
    prices = rng.uniform(1.0, 2.0, size=(7, 3))
    by_rows, outside_rows = logit_shares(prices, 2.0, 0.0, 0.25)
    by_columns, outside_columns = logit_shares(prices.T, 2.0, 0.0, 0.25, axis=0)
    np.testing.assert_allclose(by_columns.T, by_rows)
    np.testing.assert_allclose(outside_columns, outside_rows)


def test_benchmark_table_rows_equal_separate_solves_at_each_cost_shift():
    shifts = np.array([-0.2, 0.0, 0.3])
    table = benchmark_table([2.0, 2.0], [0.9, 1.1], 0.0, 0.25, shifts)
    for row, shift in enumerate(shifts):
        c = np.array([0.9, 1.1]) + shift
        np.testing.assert_allclose(table.nash_prices[row], solve_nash([2, 2], c, 0, 0.25).prices)
        monopoly = solve_monopoly([2, 2], c, 0, 0.25)
        np.testing.assert_allclose(table.monopoly_profits[row], monopoly.profits)


def test_price_grid_reaches_a_margin_of_the_gap_beyond_nash_and_monopoly():
    grid = price_grid(np.array([1.4, 1.6]), np.array([1.9, 2.1]), points=11, margin=0.1)
    assert grid.shape == (11,)
    assert grid[0] == pytest.approx(1.5 - 0.05)
    assert grid[-1] == pytest.approx(2.0 + 0.05)
    assert np.all(np.diff(grid) > 0)


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: solve_nash([2.0, 2.0], [1.0, 1.0], 0.0, 0.0), "mu"),
        (lambda: solve_nash([2.0, 2.0], [1.0, 1.0], 0.0, float("nan")), "mu"),
        (lambda: solve_nash([2.0, float("nan")], [1.0, 1.0], 0.0, 0.25), "a"),
        (lambda: solve_monopoly([2.0, 2.0], [1.0, 1.0, 1.0], 0.0, 0.25), "a, c"),
        (lambda: solve_monopoly([2.0, 2.0], [1.0, 1.0], float("inf"), 0.25), "a0"),
        (lambda: price_grid(1.9, 1.4), "p_monopoly"),
        (lambda: price_grid(1.4, 1.9, points=1), "points"),
        (lambda: price_grid(1.4, 1.9, margin=-0.1), "margin"),
    ],
)
def test_bad_solver_input_raises_value_error_naming_the_argument(call, argument):
    with pytest.raises(ValueError, match=f"^{argument}:"):
        call()


def test_a_root_finder_failure_raises_instead_of_returning_a_false_equilibrium(monkeypatch):
    def stuck(fun, x0, **kwargs):
        return optimize.OptimizeResult(x=np.asarray(x0) + 1.0, success=False, message="stuck")

    monkeypatch.setattr(optimize, "root", stuck)
    with pytest.raises(ValueError, match=r"solve_nash: no Bertrand-Nash equilibrium.*stuck"):
        solve_nash([2.0, 2.0], [1.0, 1.0], 0.0, 0.25)
