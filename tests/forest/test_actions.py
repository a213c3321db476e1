import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from forest.actions import actions_to_classes, classes_to_actions, valid_classes
from forest.economy import make_economy


@pytest.mark.parametrize("name", ["pricing", "exchange"])
def test_grid_actions_map_one_to_one(name):
    economy = make_economy(name, seed=0, n_agents=60)
    actions = np.arange(60) % economy.n_actions
    classes = actions_to_classes(economy, actions, 1024)
    np.testing.assert_array_equal(classes, actions)
    np.testing.assert_array_equal(classes_to_actions(economy, classes), actions)
    assert np.all(valid_classes(economy, 1024) == economy.n_actions)


@given(orders=st.lists(st.integers(0, 200), min_size=60, max_size=60))
def test_supply_chain_orders_survive_the_round_trip_within_half_a_unit(orders):
    economy = make_economy("supply_chain", seed=0, n_agents=60)
    orders = np.asarray(orders)
    back = classes_to_actions(economy, actions_to_classes(economy, orders, 4096))
    assert np.all(np.abs(back - orders) <= np.ceil(economy.action_unit() / 2))


@given(classes=st.lists(st.integers(0, 10_000), min_size=60, max_size=60))
def test_decoded_actions_are_always_valid(classes):
    for name in ("supply_chain", "pricing", "exchange"):
        economy = make_economy(name, seed=0, n_agents=60)
        actions = classes_to_actions(economy, np.asarray(classes))
        assert actions.min() >= 0 and actions.max() < economy.n_actions
