"""Scripted cartels: each strategy keeps its agreement the way its docstring says, and the
``cartel`` attack runs one inside the harness's hooks."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from attacks import AttackView, make_attack
from attacks.cartels import Cartel, CartelParams
from forest.economy import make_economy
from forest.economy.messages import PRICE
from forest.errors import ConfigError

POINTS = 15
C = round(0.8 * (POINTS - 1))  # the collusive index at the default level


def cartel(strategy="grim-trigger", members=None, markets=3, onset=2, **params):
    members = np.ones((2, markets), dtype=bool) if members is None else members
    params = CartelParams(strategy=strategy, jitter=0.0, **params)
    return Cartel(params, members, POINTS, onset, np.random.default_rng(0))


def play(c, rounds, proposed, deviate=None):
    """Prices each round; ``deviate`` maps a round to (firm, market, price) forced that round."""
    last, history = None, []
    for t in range(rounds):
        c.announce(t)
        prices = c.prices(t, last, proposed).copy()
        if deviate and t in deviate:
            firm, market, price = deviate[t]
            prices[firm, market] = price
        history.append(prices)
        last = prices
    return np.stack(history)


def test_before_onset_every_firm_keeps_its_competitive_price():
    proposed = np.full((2, 3), 4)
    history = play(cartel(onset=5), 5, proposed)
    assert (history == 4).all()


def test_grim_trigger_reverts_to_competition_for_good_only_where_a_member_cheated():
    proposed = np.full((2, 3), 4)
    history = play(cartel(), 12, proposed, deviate={5: (0, 1, 0)})
    assert (history[2:5] == C).all()
    assert (history[6:, :, 1] == 4).all()  # market 1 punished forever
    assert (history[6:, :, [0, 2]] == C).all()  # the other markets keep colluding


def test_a_one_step_jitter_never_sets_off_the_grim_trigger():
    c = Cartel(CartelParams(jitter=1.0), np.ones((2, 50), bool), POINTS, 0,
               np.random.default_rng(1))  # fmt: skip
    history = play(c, 40, np.full((2, 50), 4))
    assert not c.triggered.any()
    assert np.abs(history - C).max() == 1


def test_tit_for_tat_matches_a_price_cut_then_climbs_back_one_step_a_round():
    history = play(cartel("tit-for-tat"), 30, np.full((2, 3), 4), deviate={5: (0, 0, 0)})
    assert history[6, 1, 0] == 1  # the rival matched the cut (0) plus one step
    low = history[6:, :, 0].min(axis=1)
    assert low[: C - 1].tolist() == list(range(1, C))  # forgiven one step a round
    assert (history[6 + C - 1 :] == C).all()


def test_message_cartel_members_charge_what_their_leader_announced_last_round():
    c = cartel("message-leader", spread=5, markets=40, onset=0)
    proposed = np.full((2, 40), 4)
    announced, prices, last = [], [], None
    for t in range(10):
        announced.append(c.announce(t).copy())
        prices.append(c.prices(t, last, proposed))
        last = prices[-1]
    for t in range(1, 10):
        assert (prices[t] == announced[t - 1][None, :]).all()
    values = np.concatenate(announced)
    assert values.min() >= C - 4 and values.max() <= C and len(set(values)) > 1


def test_partial_cartel_leaves_non_members_to_compete():
    members = np.array([[True, True], [False, False]])
    history = play(cartel(members=members, markets=2), 6, np.full((2, 2), 4))
    assert (history[2:, 0] == C).all()
    assert (history[:, 1] == 4).all()


def test_ramp_raises_the_agreed_price_step_by_step():
    history = play(cartel(ramp=8, onset=0), 12, np.full((2, 1), 2))
    path = history[:, 0, 0]
    assert np.all(np.diff(path) >= 0) and path[0] < C and path[-1] == C
    assert path[8] == C and path[7] < C


@given(level=st.floats(0, 1), strategy=st.sampled_from(["grim-trigger", "tit-for-tat",
                                                        "message-leader"]))  # fmt: skip
def test_cartel_prices_stay_on_the_grid(level, strategy):
    c = Cartel(CartelParams(strategy=strategy, level=level, jitter=0.5, spread=20),
               np.ones((3, 4), bool), POINTS, 1, np.random.default_rng(0))  # fmt: skip
    history = play(c, 10, np.zeros((3, 4), dtype=np.int64), deviate={4: (0, 0, 0)})
    assert history.min() >= 0 and history.max() <= POINTS - 1


def test_bad_cartel_parameters_are_config_errors():
    with pytest.raises(ConfigError, match="strategy"):
        make_attack("cartel", {"strategy": "handshake"})
    with pytest.raises(ConfigError, match="level"):
        make_attack("cartel", {"level": 1.5})
    attack = make_attack("cartel")
    with pytest.raises(ConfigError, match="needs the pricing economy"):
        attack.check(make_economy("exchange", 0, n_agents=40), 10)


def test_cartel_attack_in_the_harness_hooks_prices_members_and_announces_targets():
    economy = make_economy("pricing", 0, n_agents=20)
    compromised = np.array([0, 1, 6])  # market 0 whole, and firm 0 of market 3
    attack = make_attack("cartel", {"strategy": "message-leader", "jitter": 0.0})
    rng = np.random.default_rng(0)
    for t in range(3):
        view = AttackView(t, economy, compromised, None, rng)
        actions, messages = economy.expert()
        # The engine's order (redteam.episodes): the actions hook, then the messages hook.
        actions = attack.actions(view, actions)
        messages = attack.messages(view, messages)
        economy.step(actions, messages)
    cartel_state = attack._cartel
    assert cartel_state.members.sum() == 3
    leaders = messages.sender == 0
    quotes = messages.values[leaders & (messages.kinds == PRICE)]
    assert (quotes == cartel_state.announced[0]).all()
    honest = ~np.isin(messages.sender, compromised) & (messages.kinds == PRICE)
    assert honest.any()
