import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from attacks import AttackView, make_attack
from forest.economy import make_economy
from forest.errors import ConfigError


def _view(economy, compromised, round_=0):
    return AttackView(round_, economy, np.asarray(compromised), None, np.random.default_rng(0))


def test_only_the_named_features_of_compromised_agents_are_replaced():
    economy = make_economy("supply_chain", 0, n_agents=30)
    economy.step(*economy.expert())
    truth = economy.observe()
    attack = make_attack("inventory-lies")
    seen = attack.observations(_view(economy, [2, 11, 25]), truth)
    assert seen.shape == truth.shape and seen.dtype == truth.dtype
    columns = [economy.observation_names.index(f) for f in ("inventory", "inventory_position")]
    assert (seen[np.ix_([2, 11, 25], columns)] == 0.0).all()
    assert (truth[np.ix_([2, 11, 25], columns)] > 0.0).any()  # the lie is a change
    untouched = np.ones_like(truth, dtype=bool)
    untouched[np.ix_([2, 11, 25], columns)] = False
    assert np.array_equal(seen[untouched], truth[untouched])
    assert np.array_equal(economy.observe(), truth)  # the world is not modified


@given(value=st.floats(-1e6, 1e6, width=32), who=st.sets(st.integers(0, 29), min_size=1))
def test_any_value_and_any_compromised_set_changes_only_those_rows(value, who):
    economy = make_economy("supply_chain", 1, n_agents=30)
    truth = economy.observe()
    ids = np.array(sorted(who))
    attack = make_attack("inventory-lies", {"features": ["backlog"], "value": value})
    seen = attack.observations(_view(economy, ids), truth)
    column = economy.observation_names.index("backlog")
    assert (seen[ids, column] == np.float32(value)).all()
    changed_rows = np.flatnonzero((seen != truth).any(axis=1))
    assert set(changed_rows.tolist()) <= set(ids.tolist())
    assert np.array_equal(np.delete(seen, column, axis=1), np.delete(truth, column, axis=1))


def test_features_the_economy_does_not_observe_are_a_clear_error_at_use_time():
    economy = make_economy("pricing", 0, n_agents=20)
    attack = make_attack("inventory-lies", {"objective": "raise-prices"})
    with pytest.raises(ConfigError, match=r"'inventory' is not an observation of pricing"):
        attack.observations(_view(economy, [1]), economy.observe())


def test_unknown_or_empty_feature_lists_are_config_errors_when_built():
    with pytest.raises(ConfigError, match="features"):
        make_attack("inventory-lies", {"features": ["inventroy"]})
    with pytest.raises(ConfigError, match="features"):
        make_attack("inventory-lies", {"features": []})
    with pytest.raises(ConfigError, match="features"):
        make_attack("inventory-lies", {"features": ["inventory", "inventory"]})
    with pytest.raises(ConfigError, match="value"):
        make_attack("inventory-lies", {"value": float("nan")})


def test_inventory_lies_wait_for_the_start_round():
    economy = make_economy("supply_chain", 0, n_agents=30)
    attack = make_attack("inventory-lies", {"start_round": 2})
    assert attack.observations(_view(economy, [4], round_=1), economy.observe()) is None
    assert attack.observations(_view(economy, [4], round_=2), economy.observe()) is not None
