import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from attacks import AttackView, make_attack
from forest.economy import make_economy
from forest.economy.messages import ECHO, PRICE
from forest.errors import ConfigError


def _view(economy, compromised, round_=0):
    return AttackView(round_, economy, np.asarray(compromised), None, np.random.default_rng(0))


def _traffic(economy):
    """A round of realistic traffic: the expert's quotes plus the echoes of last round's."""
    economy.step(*economy.expert())
    return economy.expert()


def test_compromised_firms_post_the_top_price_and_honest_actions_are_untouched():
    economy = make_economy("pricing", 0, n_agents=20)
    actions, messages = _traffic(economy)
    attack = make_attack("price-inflation")
    out = attack.actions(_view(economy, [3, 8]), actions)
    top = economy.n_actions - 1
    assert out[[3, 8]].tolist() == [top, top]
    assert np.array_equal(np.delete(out, [3, 8]), np.delete(actions, [3, 8]))
    assert actions[[3, 8]].tolist() != [top, top]  # a real change, not done in place
    economy.step(out, messages)  # legal actions


def test_quotes_of_compromised_firms_announce_the_posted_price_and_nothing_else_changes():
    economy = make_economy("pricing", 0, n_agents=20)
    actions, messages = _traffic(economy)
    assert {PRICE, ECHO} <= set(messages.kinds.tolist())
    attack = make_attack("price-inflation", {"level": 0.5})
    view = _view(economy, [3, 8])
    out = attack.messages(view, messages)
    target = round(0.5 * (economy.n_actions - 1))
    rewritten = np.isin(messages.sender, [3, 8]) & (messages.kinds == PRICE)
    assert rewritten.any()
    assert (out.values[rewritten] == target).all()
    assert np.array_equal(out.tokens[~rewritten], messages.tokens[~rewritten])
    assert np.array_equal(out.sender, messages.sender)
    assert np.array_equal(out.receiver, messages.receiver)
    economy.step(attack.actions(view, actions), out)  # legal messages from neighbours


@given(level=st.floats(0.0, 1.0))
def test_any_level_maps_into_the_price_grid(level):
    economy = make_economy("pricing", 0, n_agents=4)
    attack = make_attack("price-inflation", {"level": level})
    out = attack.actions(_view(economy, [1]), np.zeros(4, dtype=np.int64))
    assert 0 <= out[1] <= economy.n_actions - 1
    assert out[1] == round(level * (economy.n_actions - 1))


def test_levels_outside_the_grid_are_config_errors():
    for level in (-0.1, 1.5, float("nan")):
        with pytest.raises(ConfigError, match="level"):
            make_attack("price-inflation", {"level": level})


def test_price_inflation_waits_for_its_start_round():
    economy = make_economy("pricing", 0, n_agents=20)
    actions, messages = _traffic(economy)
    attack = make_attack("price-inflation", {"start_round": 3})
    assert attack.actions(_view(economy, [3], round_=2), actions) is actions
    assert attack.messages(_view(economy, [3], round_=2), messages) is messages
    assert attack.actions(_view(economy, [3], round_=3), actions)[3] == economy.n_actions - 1


def test_compromised_agents_that_are_not_firms_are_left_alone():
    economy = make_economy("supply_chain", 0, n_agents=30)
    actions, messages = _traffic(economy)
    attack = make_attack("price-inflation", {"objective": "raise-actions"})
    view = _view(economy, [0, 5, 20])
    assert attack.actions(view, actions) is actions
    assert attack.messages(view, messages) is messages
