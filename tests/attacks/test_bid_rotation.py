"""Bid rotation: the cartel's sellers take turns to win, the others cover just above."""

import numpy as np
import pytest

from attacks import AttackView, make_attack
from attacks.bid_rotation import BidRotationParams, Rotation
from forest.economy import make_economy
from forest.errors import ConfigError


def rotation(members, onset=0, **params):
    return Rotation(BidRotationParams(**params), members, 64, onset, np.random.default_rng(0))


def test_members_take_turns_to_win_in_seat_order_and_covers_sit_just_above():
    members = np.ones((3, 4), dtype=bool)
    r = rotation(members, level=0.5, cover_gap=2)
    proposed = np.full((3, 4), 10)
    for t in range(8):
        asks = r.asks(t, proposed)
        winner = asks.argmin(axis=1)
        assert (winner == t % 4).all()
        rigged = round(0.5 * 63)
        assert (asks[np.arange(3), winner] == rigged).all()
        covers = np.delete(asks, t % 4, axis=1)
        assert ((covers >= rigged + 1) & (covers <= rigged + 2)).all()


def test_a_partial_cartel_rotates_among_members_and_leaves_the_rest_alone():
    members = np.array([[True, False, True, False]])
    r = rotation(members)
    proposed = np.array([[5, 7, 9, 11]])
    assert [int(r.winner(t)[0]) for t in range(4)] == [0, 2, 0, 2]
    asks = r.asks(0, proposed)
    assert asks[0, 1] == 7 and asks[0, 3] == 11


def test_no_member_asks_below_its_competitive_ask_and_nothing_changes_before_onset():
    r = rotation(np.ones((2, 3), dtype=bool), onset=5, level=0.1)
    proposed = np.array([[40, 50, 60], [30, 20, 10]])
    assert np.array_equal(r.asks(4, proposed), proposed)
    assert (r.asks(5, proposed) >= proposed).all()


def test_bad_parameters_and_economies_are_config_errors():
    with pytest.raises(ConfigError, match="cover_gap"):
        make_attack("bid-rotation", {"cover_gap": 0})
    with pytest.raises(ConfigError, match="needs the exchange economy"):
        make_attack("bid-rotation").check(make_economy("pricing", 0, n_agents=20), 10)


def test_the_attack_rigs_the_compromised_sellers_asks_in_the_harness_hook():
    economy = make_economy("exchange", 0, n_agents=20)  # 2 markets of 5 buyers and 5 sellers
    sellers = np.flatnonzero(~economy.is_buyer[:10])  # the sellers of market 0
    attack = make_attack("bid-rotation", {"level": 0.9})
    rng = np.random.default_rng(0)
    for t in range(5):
        actions, messages = economy.expert()
        rigged = attack.actions(AttackView(t, economy, sellers, None, rng), actions)
        assert np.array_equal(rigged[10:], actions[10:])  # market 1 untouched
        winner = sellers[np.argmin(rigged[sellers])]
        assert winner == sellers[t % 5]
        economy.step(rigged, messages)
