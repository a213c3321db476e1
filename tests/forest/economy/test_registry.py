import pytest

from forest.economy import economy_names, make_economy
from forest.economy.supply_chain import SupplyChainConfig
from forest.errors import ConfigError, InvalidInputError, UnknownNameError


def test_all_three_economies_are_registered():
    assert {"supply_chain", "pricing", "exchange"} <= set(economy_names())


def test_unknown_economy_lists_the_allowed_names():
    with pytest.raises(UnknownNameError, match="allowed") as err:
        make_economy("barter")
    assert "supply_chain" in str(err.value)
    assert isinstance(err.value, ValueError)


def test_overrides_reach_the_config():
    economy = make_economy("supply_chain", seed=1, n_agents=40)
    assert economy.n_agents == 40


def test_unknown_config_field_is_refused():
    with pytest.raises(ConfigError, match="unknown field"):
        make_economy("supply_chain", agents=40)


def test_unknown_preset_lists_presets():
    with pytest.raises(UnknownNameError, match="beer-game"):
        SupplyChainConfig.preset("nope")


@pytest.mark.parametrize("seed", [-1, 1.5, True, "0"])
def test_bad_seed_is_refused(seed):
    with pytest.raises(InvalidInputError, match="seed"):
        make_economy("supply_chain", seed=seed)
