"""Profit-seeking fine-tuning: deterministic, resumable, trains only aggregation and heads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from forest.checkpoints import load_policy
from forest.economy.pricing import Pricing
from forest.economy.pricing_config import PricingConfig
from forest.errors import ConfigError
from forest.seating import load_seated
from forest.training import resume
from forest.training.behaviour_cloning import TrainingError
from forest.training.profit_seeking import (
    ProfitConfig,
    finetune_for_profit,
    firm_rewards,
)

SHIPPED = Path(__file__).resolve().parents[3] / "checkpoints" / "small"


class Killed(Exception):
    pass


def weights(policy) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in policy.model.state_dict().items()}


@pytest.fixture(scope="module")
def independent(tmp_path_factory):
    out = tmp_path_factory.mktemp("independent")
    config = ProfitConfig.preset("tiny", seating="independent")
    return out, config, *finetune_for_profit(config, SHIPPED, out)


def test_the_encoder_stays_frozen_while_aggregation_and_heads_learn(independent):
    _, _, policy, log = independent
    base = load_policy(SHIPPED, with_router=False).model.state_dict()
    for firm in policy.model.firms:
        trained = firm.state_dict()
        assert all(torch.equal(trained[k], base[k]) for k in base if k.startswith("encoder."))
        assert not all(torch.equal(trained[k], base[k]) for k in base if k.startswith("readout."))
    assert len(log) == 2 and {"profit_gain", "price_level", "entropy"} <= set(log[0])


def test_independent_firms_learn_apart(independent):
    _, _, policy, _ = independent
    first, second = (firm.state_dict() for firm in policy.model.firms)
    assert not all(torch.equal(first[k], second[k]) for k in first)


def test_the_same_config_gives_the_same_weights_and_a_finished_run_loads(independent, tmp_path):
    out, config, policy, log = independent
    again, again_log = finetune_for_profit(config, SHIPPED, tmp_path)
    assert again_log == log
    a, b = weights(policy), weights(again)
    assert all(torch.equal(a[k], b[k]) for k in a)
    loaded, loaded_log = finetune_for_profit(config, SHIPPED, out)  # finished: loaded
    assert loaded_log == log and all(torch.equal(a[k], v) for k, v in weights(loaded).items())
    with pytest.raises(TrainingError, match="another source or config"):
        finetune_for_profit(ProfitConfig.preset("tiny", seating="masked"), SHIPPED, out)


def test_a_killed_run_resumes_to_the_same_weights(independent, tmp_path):
    _, config, policy, log = independent

    def kill_in_second_iteration(row):
        if row["iteration"] == 1:
            raise Killed

    with pytest.raises(Killed):
        finetune_for_profit(config, SHIPPED, tmp_path, on_iteration=kill_in_second_iteration)
    assert resume.has_training_state(tmp_path)  # the first iteration was saved
    resumed, resumed_log = finetune_for_profit(config, SHIPPED, tmp_path)
    assert resumed_log == log
    a, b = weights(policy), weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_joint_reward_pays_every_firm_its_markets_mean_profit():
    world = Pricing(PricingConfig(n_agents=8), 0)
    actions = np.array([0, 14, 3, 3, 7, 1, 2, 9])
    world.step(actions, world.quotes(actions))
    own, joint = firm_rewards(world, "own"), firm_rewards(world, "joint")
    by_market_own, by_market_joint = world.by_market(own), world.by_market(joint)
    assert np.allclose(by_market_joint, by_market_own.mean(axis=0))
    assert not np.allclose(own, joint)
    assert np.isclose(own.sum(), joint.sum())


@pytest.mark.parametrize(
    ("field", "value"),
    [("seating", "cartel"), ("reward", "rival"), ("markets", 0), ("discount", 1.5),
     ("entropy_weight", -1.0), ("iterations", 0)],
)  # fmt: skip
def test_bad_configs_are_refused_naming_the_field(field, value):
    with pytest.raises(ConfigError, match=field):
        ProfitConfig(**{field: value})


def test_a_saved_fine_tune_loads_as_a_seated_forest(independent):
    out, _, policy, _ = independent
    loaded = load_seated(out)
    assert loaded.model.seating == "independent"
    world = Pricing(PricingConfig(n_agents=10), 3)
    assert np.array_equal(
        loaded.act(world).actions, policy.act(Pricing(PricingConfig(n_agents=10), 3)).actions
    )
