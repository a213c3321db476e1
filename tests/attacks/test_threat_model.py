import numpy as np
import pytest

from attacks import Attack, RoundOutcome, ThreatModel, attack_names, make_attack
from forest.economy import ROLES, make_economy
from forest.errors import ConfigError, UnknownNameError


def test_fraction_rounds_to_a_count_and_never_below_one_agent():
    economy = make_economy("supply_chain", 0, n_agents=200)
    rng = np.random.default_rng(0)
    assert ThreatModel(fraction=0.05).choose_agents(economy, rng).size == 10
    assert ThreatModel(fraction=0.0001).choose_agents(economy, rng).size == 1
    assert ThreatModel(count=7).choose_agents(economy, rng).size == 7


def test_choice_is_seeded_sorted_distinct_and_restricted_to_the_roles_asked_for():
    economy = make_economy("supply_chain", 0, n_agents=200)
    threat = ThreatModel(count=5, roles=("retailer",))
    a = threat.choose_agents(economy, np.random.default_rng(3))
    b = threat.choose_agents(economy, np.random.default_rng(3))
    assert a.tolist() == b.tolist() == sorted(set(a.tolist()))
    assert {ROLES[r] for r in economy.role[a]} == {"retailer"}


def test_impossible_threat_models_are_config_errors_naming_the_field():
    economy = make_economy("pricing", 0, n_agents=20)
    with pytest.raises(ConfigError, match="roles"):
        ThreatModel(roles=("wizard",))
    with pytest.raises(ConfigError, match="roles: pricing has no agent"):
        ThreatModel(roles=("retailer",)).choose_agents(economy, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="count"):
        ThreatModel(count=21).choose_agents(economy, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="fraction"):
        ThreatModel(fraction=1.5)
    with pytest.raises(ConfigError, match="knowledge"):
        ThreatModel(knowledge="grey-box")


def test_an_attack_that_needs_gradients_refuses_a_black_box_threat_model():
    class NeedsGradients(Attack):
        name = "needs-gradients"
        description = objective = surface = "test"
        knowledge = "white-box"

        def succeeded(self, outcome: RoundOutcome) -> bool:
            return False

    params = NeedsGradients.params_class()
    with pytest.raises(ConfigError, match="needs white-box access"):
        NeedsGradients(params, ThreatModel(knowledge="black-box"))
    assert NeedsGradients(params, ThreatModel(knowledge="white-box")).threat.knowledge


def test_registry_lists_the_starter_attacks_and_names_the_allowed_on_a_typo():
    assert {"latent-noise", "compromised-order-spike"} <= set(attack_names())
    with pytest.raises(UnknownNameError, match=r"allowed: .*latent-noise"):
        make_attack("latent-nosie")
    with pytest.raises(ConfigError, match=r"params\.norm: expected a number"):
        make_attack("latent-noise", {"norm": "big"})
