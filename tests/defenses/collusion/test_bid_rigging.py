"""Bid-rigging screens over auction asks: formulas, invariances, refusals."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from defenses.collusion import AuctionPanel, PricePanel, make_screen, screen_names
from forest.errors import InvalidInputError

AUCTION_SCREENS = screen_names(AuctionPanel)


def honest_asks(seed, markets=5, rounds=60, sellers=4):
    return np.random.default_rng(seed).uniform(0.05, 1.0, (markets, rounds, sellers))


def rotated_asks(markets=5, rounds=60, sellers=4):
    """Seller t % S wins at 0.6; the others cover 0.01-0.03 above."""
    asks = np.full((markets, rounds, sellers), 0.62)
    asks += 0.01 * (np.arange(sellers) % 3)[None, None, :]
    for t in range(rounds):
        asks[:, t, t % sellers] = 0.6
    return asks


def test_the_auction_screens_are_registered_apart_from_the_price_screens():
    assert set(AUCTION_SCREENS) == {"ask-dispersion", "relative-distance", "rotation"}
    assert not set(AUCTION_SCREENS) & set(screen_names(PricePanel))
    with pytest.raises(TypeError, match="rotation screen reads a AuctionPanel, got PricePanel"):
        make_screen("rotation").score(PricePanel(np.ones((1, 10, 2)), 1.0, 2.0))


@given(arrays(np.float64, (3, 10, 4), elements=st.floats(0.01, 5.0, allow_subnormal=False)))
def test_auction_screens_never_return_nan(asks):
    for name in AUCTION_SCREENS:
        assert np.isfinite(make_screen(name).score(AuctionPanel(asks))).all()


@given(st.integers(0, 1000), st.floats(0.01, 100.0), st.permutations(range(5)))
def test_auction_screens_are_invariant_to_units_and_equivariant_to_market_order(seed, unit, order):
    panel = AuctionPanel(honest_asks(seed))
    order = np.array(order)
    for name in AUCTION_SCREENS:
        screen = make_screen(name)
        scores = screen.score(panel)
        assert screen.score(AuctionPanel(panel.asks * unit)) == pytest.approx(scores, abs=1e-9)
        assert screen.score(panel.markets(order)) == pytest.approx(scores[order])


def test_a_rotation_scores_far_above_honest_auctions_on_every_screen():
    honest, rigged = AuctionPanel(honest_asks(0)), AuctionPanel(rotated_asks())
    for name in AUCTION_SCREENS:
        screen = make_screen(name)
        assert screen.score(rigged).min() > screen.score(honest).max(), name


def test_rotation_is_log_sellers_for_a_strict_cycle_and_zero_for_one_constant_winner():
    score = make_screen("rotation").score(AuctionPanel(rotated_asks(rounds=200)))
    assert score == pytest.approx(np.log(4), abs=0.05)
    monopoly = np.tile([0.1, 0.5, 0.6, 0.7], (2, 40, 1))
    assert make_screen("rotation").score(AuctionPanel(monopoly)) == pytest.approx(0.0, abs=1e-9)


def test_relative_distance_and_dispersion_follow_their_formulas():
    asks = np.array([[[0.5, 0.6, 0.7, 0.8]] * 8])
    expected = 0.1 / (np.std([0.6, 0.7, 0.8]) + 1e-6 * 0.65)
    assert make_screen("relative-distance").score(AuctionPanel(asks)) == pytest.approx([expected])
    cv = np.std([0.5, 0.6, 0.7, 0.8]) / 0.65
    assert make_screen("ask-dispersion").score(AuctionPanel(asks)) == pytest.approx(
        [-np.log(cv + 1e-6)]
    )


@pytest.mark.parametrize(
    ("asks", "message"),
    [
        (np.ones((2, 10)), "expected shape \\(markets, rounds, sellers\\)"),
        (np.ones((2, 4, 3)), "at least 8 rounds"),
        (np.ones((2, 10, 1)), "at least 2 sellers"),
        (np.full((2, 10, 3), np.inf), "NaN or infinity"),
    ],
)
def test_malformed_asks_are_refused(asks, message):
    with pytest.raises(InvalidInputError, match=message):
        AuctionPanel(asks)


def test_screens_refuse_what_they_cannot_measure():
    with pytest.raises(InvalidInputError, match="relative-distance screen needs at least 3"):
        make_screen("relative-distance").score(AuctionPanel(np.ones((1, 10, 2))))
    with pytest.raises(InvalidInputError, match="positive mean ask"):
        make_screen("ask-dispersion").score(AuctionPanel(np.zeros((1, 10, 3))))
