import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from attacks import AttackView, make_attack
from forest.economy import Messages, make_economy
from forest.economy.messages import DEMAND, ECHO, MAX_MESSAGE_VALUE
from forest.errors import ConfigError


def _view(economy, compromised, round_=0):
    return AttackView(round_, economy, np.asarray(compromised), None, np.random.default_rng(0))


def _traffic(economy):
    """A round of realistic traffic: the expert's demand reports plus echoes."""
    economy.step(*economy.expert())
    return economy.expert()


def _reporters(economy, k=3):
    """Retailers and warehouses: the agents that report demand upstream."""
    return np.flatnonzero(economy.parent >= 0)[-k:]


def test_compromised_demand_reports_are_multiplied_and_everything_else_is_unchanged():
    economy = make_economy("supply_chain", 0, n_agents=30)
    actions, messages = _traffic(economy)
    assert {DEMAND, ECHO} <= set(messages.kinds.tolist())
    liars = _reporters(economy)
    attack = make_attack("phantom-orders", {"factor": 2.5})
    view = _view(economy, liars)
    out = attack.messages(view, messages)
    lied = np.isin(messages.sender, liars) & (messages.kinds == DEMAND)
    assert lied.sum() == liars.size
    expected = np.clip(np.rint(messages.values[lied] * 2.5), 0, MAX_MESSAGE_VALUE)
    assert np.array_equal(out.values[lied], expected)
    assert (out.kinds[lied] == DEMAND).all()
    assert np.array_equal(out.tokens[~lied], messages.tokens[~lied])
    assert attack.actions(view, actions) is actions  # they order normally
    economy.step(actions, out)


@given(factor=st.floats(0.0, 1000.0), value=st.integers(0, MAX_MESSAGE_VALUE))
def test_phantom_reports_stay_legal_message_values(factor, value):
    economy = make_economy("supply_chain", 0, n_agents=30)
    liar = int(_reporters(economy, 1)[0])
    report = Messages.make(DEMAND, [liar], [economy.parent[liar]], [value])
    out = make_attack("phantom-orders", {"factor": factor}).messages(_view(economy, [liar]), report)
    assert 0 <= out.values[0] <= MAX_MESSAGE_VALUE
    assert out.values[0] == min(np.rint(value * factor), MAX_MESSAGE_VALUE)
    economy.step(np.zeros(30, dtype=np.int64), out)


def test_a_phantom_report_raises_the_parents_demand_forecast():
    def forecast_after(factor):
        economy = make_economy("supply_chain", 0, n_agents=30)
        actions, messages = _traffic(economy)
        liars = _reporters(economy)
        attack = make_attack("phantom-orders", {"factor": factor})
        economy.step(actions, attack.messages(_view(economy, liars), messages))
        column = economy.observation_names.index("demand_forecast")
        return economy.observe()[economy.parent[liars], column]

    assert (forecast_after(3.0) > forecast_after(1.0)).all()


def test_phantom_orders_wait_for_the_start_round_and_reject_bad_factors():
    economy = make_economy("supply_chain", 0, n_agents=30)
    _, messages = _traffic(economy)
    attack = make_attack("phantom-orders", {"start_round": 5})
    assert attack.messages(_view(economy, _reporters(economy), round_=4), messages) is messages
    for factor in (-1.0, 1e4, float("inf")):
        with pytest.raises(ConfigError, match="factor"):
            make_attack("phantom-orders", {"factor": factor})
