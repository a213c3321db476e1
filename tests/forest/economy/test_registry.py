import numpy as np
import pytest

from forest.economy import economies_counted, economy_names, make_economy, require_economy_table
from forest.economy.messages import ECHO
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


@pytest.mark.parametrize("name", ["supply_chain", "pricing", "exchange"])
def test_expert_messages_go_only_to_declared_recipients(name):
    economy = make_economy(name, seed=0, n_agents=60)
    economy.step(*economy.expert())
    _, messages = economy.expert()
    sender, receiver = economy.message_recipients()
    declared = set(zip(sender.tolist(), receiver.tolist(), strict=True))
    informative = messages.select(messages.kinds != ECHO)
    sent = set(zip(informative.sender.tolist(), informative.receiver.tolist(), strict=True))
    assert sent == declared
    assert economy.are_neighbours(sender, receiver).all()


@pytest.mark.parametrize("name", ["supply_chain", "pricing", "exchange"])
def test_tree_ids_group_neighbours_into_the_same_tree(name):
    economy = make_economy(name, seed=0, n_agents=60)
    trees = economy.tree_ids()
    assert trees.shape == (60,)
    sender, receiver = economy.message_recipients()
    assert np.array_equal(trees[sender], trees[receiver])


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ([("supply_chain", 1)], "field: expected a table economy -> value"),
        ({"supply_chain": 1, "casino": 2}, "field: unknown economy 'casino'; allowed: "),
    ],
)
def test_an_economy_table_names_only_registered_economies(table, message):
    with pytest.raises(ConfigError, match=message):
        require_economy_table(table, "field")
    require_economy_table({name: 1 for name in economy_names()}, "field")  # every name is known


def test_economies_counted_are_those_above_zero_in_registry_order():
    assert economies_counted({}, 2, "field") == tuple(economy_names())  # a table naming none
    assert economies_counted({"supply_chain": 6, "exchange": 0}, 2, "field") == (
        "pricing",
        "supply_chain",
    )
    assert economies_counted({"supply_chain": 1}, 0, "field") == ("supply_chain",)
    for counts, message in (
        ({"pricing": -1}, r"field\[pricing\]: expected an integer"),
        ({"pricing": 1.5}, r"field\[pricing\]: expected an integer"),
        (dict.fromkeys(economy_names(), 0), "field: .* leaves no economy"),
    ):
        with pytest.raises(ConfigError, match=message):
            economies_counted(counts, 2, "field")
