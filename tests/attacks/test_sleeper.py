import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from attacks import AttackView, make_attack
from forest.economy import make_economy
from forest.economy.messages import MAX_MESSAGE_VALUE
from forest.errors import ConfigError


def _view(economy, compromised, round_=0):
    return AttackView(round_, economy, np.asarray(compromised), None, np.random.default_rng(0))


def _traffic(economy):
    """A round of realistic traffic: offers plus the echoes of last round's."""
    economy.step(*economy.expert())
    return economy.expert()


def test_before_waking_every_hook_leaves_the_forest_exactly_as_it_is():
    economy = make_economy("exchange", 0, n_agents=30)
    actions, messages = _traffic(economy)
    attack = make_attack("sleeper", {"wake_round": 4, "start_round": 1})
    for round_ in range(4):
        view = _view(economy, [0, 7, 12], round_=round_)
        assert attack.observations(view, economy.observe()) is None
        assert attack.summary_delta(view, 16) is None
        assert attack.actions(view, actions) is actions
        assert attack.messages(view, messages) is messages
        assert not attack.active(round_)
    assert attack.active(4) and attack.active(9)


def test_after_waking_compromised_agents_spike_and_send_max_quotes_only_their_own():
    economy = make_economy("exchange", 0, n_agents=30)
    actions, messages = _traffic(economy)
    attack = make_attack("sleeper", {"wake_round": 2, "factor": 3.0})
    ids = [0, 7, 12]
    view = _view(economy, ids, round_=2)
    spiked = attack.actions(view, actions)
    unit = economy.action_unit()[ids]
    expected = np.clip(np.rint(np.maximum(actions[ids], unit) * 3.0), 0, economy.n_actions - 1)
    assert np.array_equal(spiked[ids], expected)
    assert np.array_equal(np.delete(spiked, ids), np.delete(actions, ids))
    out = attack.messages(view, messages)
    mine = np.isin(messages.sender, ids)
    assert mine.any()
    assert (out.values[mine] == MAX_MESSAGE_VALUE).all()
    assert np.array_equal(out.kinds, messages.kinds)
    assert np.array_equal(out.tokens[~mine], messages.tokens[~mine])
    economy.step(spiked, out)  # legal actions and messages


@given(
    factor=st.floats(0.0, 1000.0),
    action=st.integers(0, 1023),
    quote=st.integers(0, MAX_MESSAGE_VALUE),
)
def test_woken_actions_and_quotes_stay_in_their_legal_ranges(factor, action, quote):
    economy = make_economy("supply_chain", 0, n_agents=30)
    actions, messages = _traffic(economy)
    actions = np.full(30, min(action, economy.n_actions - 1), dtype=np.int64)
    attack = make_attack("sleeper", {"wake_round": 0, "factor": factor, "quote_value": quote})
    view = _view(economy, [3, 9, 29])
    spiked = attack.actions(view, actions)
    assert spiked.min() >= 0 and spiked.max() <= economy.n_actions - 1
    out = attack.messages(view, messages)
    assert (out.values[np.isin(out.sender, [3, 9, 29])] == quote).all()
    economy.step(spiked, out)


def test_wake_round_before_start_round_and_bad_quotes_are_config_errors():
    with pytest.raises(ConfigError, match="wake_round"):
        make_attack("sleeper", {"start_round": 5, "wake_round": 4})
    with pytest.raises(ConfigError, match="quote_value"):
        make_attack("sleeper", {"quote_value": MAX_MESSAGE_VALUE + 1})
    with pytest.raises(ConfigError, match="factor"):
        make_attack("sleeper", {"factor": -2.0})
    assert make_attack("sleeper", {"start_round": 5, "wake_round": 5}).active(5)
