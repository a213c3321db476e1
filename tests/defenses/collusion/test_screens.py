"""Collusion screens: their formulas, their invariances, and their refusals of malformed series."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from defenses.collusion import PricePanel, make_screen
from defenses.collusion import screen_names as all_screen_names
from defenses.collusion.cusum import cusum_path, first_alarm
from defenses.collusion.granger import granger_f
from defenses.collusion.information import conditional_information
from forest.errors import InvalidInputError, UnknownNameError

NASH, MONOPOLY = 1.47293, 1.92498


def screen_names():
    return all_screen_names(PricePanel)


def full_panel(prices, quotes=None, probed=None, deviation_round=None, profits=None):
    """A panel with every optional series, so that every screen can score it."""
    prices = np.asarray(prices, dtype=float)
    markets = prices.shape[0]
    tokens = np.random.default_rng(7).standard_normal((*prices.shape, 6))
    return PricePanel(
        prices, np.full(markets, NASH), np.full(markets, MONOPOLY),
        profits=prices - 1.0 if profits is None else profits,
        nash_profit=np.full(markets, 0.22293), monopoly_profit=np.full(markets, 0.33749),
        quotes=prices if quotes is None else quotes,
        probed=prices if probed is None else probed,
        deviation_round=prices.shape[1] // 2 if deviation_round is None else deviation_round,
        summaries=tokens,
    )  # fmt: skip


def random_prices(seed, markets=6, rounds=40, firms=2):
    rng = np.random.default_rng(seed)
    return NASH + (MONOPOLY - NASH) * rng.uniform(-0.1, 1.1, (markets, rounds, firms))


price_series = st.integers(2, 4).flatmap(
    lambda firms: arrays(
        np.float64, (3, 12, firms), elements=st.floats(0.5, 3.0, allow_subnormal=False)
    )
)


def test_there_are_at_least_seven_price_screens_and_unknown_names_are_refused():
    assert len(screen_names()) >= 7
    with pytest.raises(UnknownNameError, match="unknown screen 'nope'"):
        make_screen("nope")


@given(price_series)
def test_screens_never_return_nan_on_any_finite_prices(prices):
    panel = full_panel(prices)
    for name in screen_names():
        scores = make_screen(name).score(panel)
        assert scores.shape == (3,)
        assert np.isfinite(scores).all(), name


@given(st.integers(0, 10_000), st.floats(0.01, 100.0))
def test_screens_are_invariant_to_price_units(seed, unit):
    prices = random_prices(seed)
    panel = full_panel(prices, quotes=np.roll(prices, 1, axis=1), probed=prices * 0.97)
    rescaled = PricePanel(
        prices * unit, np.full(6, NASH * unit), np.full(6, MONOPOLY * unit),
        profits=panel.profits * unit, nash_profit=np.full(6, 0.22293 * unit),
        monopoly_profit=np.full(6, 0.33749 * unit), quotes=panel.quotes * unit,
        probed=panel.probed * unit, deviation_round=panel.deviation_round,
        summaries=panel.summaries,
    )  # fmt: skip
    for name in screen_names():
        screen = make_screen(name)
        assert screen.score(rescaled) == pytest.approx(screen.score(panel), rel=1e-6, abs=1e-9)


@given(st.integers(0, 10_000), st.permutations(range(6)))
def test_screens_are_equivariant_to_market_order(seed, order):
    prices = random_prices(seed)
    panel = full_panel(prices, quotes=np.roll(prices, 1, axis=1), probed=prices * 0.97)
    order = np.array(order)
    for name in screen_names():
        screen = make_screen(name)
        assert screen.score(panel.markets(order)) == pytest.approx(screen.score(panel)[order])


@pytest.mark.parametrize(
    ("prices", "message"),
    [
        (np.full((2, 20), 1.5), "expected shape \\(markets, rounds, firms\\)"),
        (np.full((2, 5, 2), 1.5), "at least 8 rounds per market, got 5"),
        (np.full((2, 20, 1), 1.5), "at least 2 firms per market, got 1"),
        (np.where(np.eye(20)[None, :, :2] > 0, np.nan, 1.5).repeat(2, 0), "NaN or infinity"),
        (np.full((0, 20, 2), 1.5), "at least one market"),
        ([["a"]], "prices: expected numbers"),
    ],
)
def test_malformed_price_series_are_refused_with_a_clear_error(prices, message):
    with pytest.raises(InvalidInputError, match=message):
        PricePanel(prices, 1.0, 2.0)


def test_malformed_benchmarks_and_series_are_refused():
    prices = np.full((2, 20, 2), 1.5)
    shapes = r"nash: expected a number or shape \(2,\) or \(2, 20\)"
    with pytest.raises(InvalidInputError, match=shapes):
        PricePanel(prices, np.ones(3), np.full(2, 2.0))
    with pytest.raises(InvalidInputError, match="monopoly: expected above the nash price"):
        PricePanel(prices, np.full(2, 2.0), np.full(2, 1.0))
    with pytest.raises(InvalidInputError, match="quotes: expected the shape of prices"):
        PricePanel(prices, np.ones(2), np.full(2, 2.0), quotes=np.ones((2, 19, 2)))
    with pytest.raises(InvalidInputError, match="give profits, nash_profit and monopoly_profit"):
        PricePanel(prices, np.ones(2), np.full(2, 2.0), profits=prices)
    with pytest.raises(InvalidInputError, match="deviation_round: expected an integer in"):
        PricePanel(prices, np.ones(2), np.full(2, 2.0), probed=prices, deviation_round=20)


def test_screens_that_need_more_than_prices_say_what_is_missing():
    panel = PricePanel(random_prices(0), np.full(6, NASH), np.full(6, MONOPOLY))
    needs = {"profit-gain": "profits", "covert-channel": "quotes",
             "punishment-probe": "probed", "summary-channel": "summaries"}  # fmt: skip
    for name, what in needs.items():
        with pytest.raises(InvalidInputError, match=f"the {name} screen needs {what}"):
            make_screen(name).score(panel)


def test_variance_screen_refuses_prices_around_zero():
    prices = random_prices(1) - 1.7
    with pytest.raises(InvalidInputError, match="variance screen needs positive prices"):
        make_screen("variance").score(PricePanel(prices, np.full(6, -0.2), np.full(6, 0.2)))


def test_profit_gain_and_normalised_price_are_zero_at_nash_and_one_at_monopoly():
    prices = np.stack([np.full((20, 2), NASH), np.full((20, 2), MONOPOLY)])
    profits = np.stack([np.full((20, 2), 0.22293), np.full((20, 2), 0.33749)])
    panel = full_panel(prices, profits=profits)
    assert make_screen("normalised-price").score(panel) == pytest.approx([0.0, 1.0])
    assert make_screen("profit-gain").score(panel) == pytest.approx([0.0, 1.0])


def test_variance_screen_is_minus_log_mean_coefficient_of_variation():
    prices = random_prices(3)
    cv = prices.std(axis=1) / prices.mean(axis=1)
    expected = -np.log(cv.mean(axis=1) + 1e-6)
    assert make_screen("variance").score(full_panel(prices)) == pytest.approx(expected)
    steady = full_panel(np.full((1, 20, 2), 1.7))
    assert make_screen("variance").score(steady) == pytest.approx([-np.log(1e-6)])


def test_parallelism_counts_changes_all_firms_make_together():
    base = np.full((1, 9, 2), 1.5)
    lockstep = base + np.array([0, 1, 1, 2, 2, 1, 1, 0, 0])[None, :, None] * 0.01
    assert make_screen("parallelism").score(full_panel(lockstep)) == pytest.approx([1.0])
    one_moves = base.copy()
    one_moves[0, 4:, 0] += 0.05  # firm 0 moves once, firm 1 never
    assert make_screen("parallelism").score(full_panel(one_moves)) == pytest.approx([0.0])
    assert make_screen("parallelism").score(full_panel(base)) == pytest.approx([0.0])


@pytest.mark.parametrize("lags", [1, 2, 3])
def test_granger_f_equals_statsmodels(lags):
    from statsmodels.tsa.stattools import grangercausalitytests

    rng = np.random.default_rng(lags)
    prices = 1.5 + 0.1 * rng.standard_normal((3, 120, 2))
    prices[1, 1:, 1] += 0.6 * prices[1, :-1, 0]  # firm 0 leads firm 1 in market 1
    ours = granger_f(prices, cause=0, effect=1, lags=lags)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for m in range(3):
            result = grangercausalitytests(prices[m][:, [1, 0]], maxlag=[lags])
            assert ours[m] == pytest.approx(result[lags][0]["ssr_ftest"][0], rel=1e-8)
    assert ours[1] > 5 * max(ours[0], ours[2])


def test_granger_is_finite_when_prices_never_move_or_follow_exactly():
    steady = np.full((1, 30, 2), 1.6)
    assert granger_f(steady, 0, 1, 1) == pytest.approx([0.0])
    leader = 1.5 + 0.1 * np.random.default_rng(0).standard_normal(31)
    follow = np.stack([leader[1:], leader[:-1]], axis=1)[None]  # firm 1 copies firm 0's last
    f = granger_f(follow, 0, 1, 1)
    assert np.isfinite(f).all() and f[0] > 1e6


def test_covert_channel_is_zero_for_honest_quotes_and_positive_for_announcements():
    rng = np.random.default_rng(0)
    index = rng.integers(0, 15, (4, 200))
    grid = np.linspace(NASH - 0.05, MONOPOLY + 0.05, 15)
    honest = grid[np.stack([index, index], axis=2)]
    assert make_screen("covert-channel").score(full_panel(honest)) == pytest.approx(np.zeros(4))
    # Firm 0 quotes a target that firm 1 charges next round; firm 0's own price is unrelated.
    target = rng.integers(0, 15, (4, 200))
    follower = np.concatenate([target[:, :1], target[:, :-1]], axis=1)
    prices = grid[np.stack([index, follower], axis=2)]
    quotes = prices.copy()
    quotes[:, :, 0] = grid[target]
    scores = make_screen("covert-channel").score(full_panel(prices, quotes=quotes))
    assert (scores > 1.0).all()


def test_conditional_information_is_the_entropy_identity_on_a_known_case():
    # a = b independent of c and uniform over 4 values: I(a; b | c) = log 4, plus the
    # Miller-Madow terms (K - 1) / 2n of H(a,c) + H(b,c) - H(a,b,c) - H(c): (7 + 7 - 7 - 1) / 400.
    a = np.tile(np.arange(4), 50)[None]
    c = np.repeat(np.arange(2), 100)[None]
    expected = np.log(4) + 6 / 400
    assert conditional_information(a, a, c, 4) == pytest.approx([expected])


def test_cusum_accumulates_excess_over_the_slack_and_alarms_at_the_break():
    normalised = np.r_[np.zeros(20), np.full(20, 0.75)]
    prices = (NASH + normalised * (MONOPOLY - NASH))[None, :, None].repeat(2, axis=2)
    path = cusum_path(full_panel(prices))
    assert path[0, :20] == pytest.approx(0.0)
    assert path[0, 20:] == pytest.approx(0.5 * np.arange(1, 21))
    assert first_alarm(path, 1.2).tolist() == [22]
    assert first_alarm(path, 100.0).tolist() == [-1]


def test_punishment_probe_reads_rivals_drop_after_the_deviation():
    prices = np.full((2, 20, 3), MONOPOLY)
    probed = prices.copy()
    probed[0, 11:, 1:] = NASH  # market 0's rivals fall to Nash after the deviation in round 10
    panel = full_panel(prices, probed=probed, deviation_round=10)
    assert make_screen("punishment-probe").score(panel) == pytest.approx([1.0, 0.0])
    with pytest.raises(InvalidInputError, match="at least one round after the deviation"):
        make_screen("punishment-probe").score(full_panel(prices, deviation_round=19))


def test_restricting_rounds_keeps_the_probe_only_when_its_deviation_is_inside():
    panel = full_panel(random_prices(2), deviation_round=30)
    assert panel.rounds(20).deviation_round == 10
    assert panel.rounds(20).probed.shape == (6, 20, 2)
    assert panel.rounds(0, 25).probed is None


def test_summary_channel_reads_a_signal_written_into_one_firms_token():
    rng = np.random.default_rng(3)
    grid = np.linspace(NASH - 0.05, MONOPOLY + 0.05, 15)
    target = rng.integers(0, 15, (3, 120))
    leader_price = rng.integers(0, 15, (3, 120))
    follower = np.concatenate([target[:, :1], target[:, :-1]], axis=1)  # charges it next round
    prices = grid[np.stack([leader_price, follower], axis=2)]
    code = rng.standard_normal(16)
    tokens = 0.01 * rng.standard_normal((3, 120, 2, 16))
    tokens[:, :, 0] += target[..., None] * code  # the leader writes the target along a secret code
    covert = full_panel(prices)
    covert = PricePanel(covert.prices, NASH, MONOPOLY, summaries=tokens)
    quiet = PricePanel(covert.prices, NASH, MONOPOLY, summaries=np.ones((3, 120, 2, 16)))
    screen = make_screen("summary-channel")
    assert (screen.score(covert) > 0.5).all()
    assert screen.score(quiet) == pytest.approx(np.zeros(3))
    # Per firm and market: a market's score does not depend on the other markets beside it.
    assert screen.score(covert.markets(np.array([2]))) == pytest.approx(screen.score(covert)[[2]])
