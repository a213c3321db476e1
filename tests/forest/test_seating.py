"""Seatings of a pricing forest: who shares the latent, checked by changing a rival's inputs."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from forest.checkpoints import load_policy
from forest.economy import make_economy
from forest.economy.pricing import Pricing
from forest.economy.pricing_config import PricingConfig
from forest.errors import InvalidInputError
from forest.model import ForestConfig, ForestModel
from forest.seating import SeatedForest, SeatedPolicy, firm_seats, load_seated, save_seated

SHIPPED = Path(__file__).resolve().parents[2] / "checkpoints" / "small"


@pytest.fixture(scope="module")
def shipped():
    return load_policy(SHIPPED, with_router=False)


@pytest.fixture(scope="module")
def random_model() -> ForestModel:
    """Random weights: unlike the trained forest, its decisions read the context strongly."""
    torch.manual_seed(0)
    cfg = ForestConfig.preset("tiny", vocab_size=200, n_actions=15)
    return ForestModel(cfg).eval()


def economy(markets: int = 6, seed: int = 0) -> Pricing:
    return Pricing(PricingConfig(n_agents=2 * markets), seed)


def round_inputs(policy, world: Pricing) -> dict:
    inputs = SeatedPolicy(SeatedForest([policy.model], "shared"), policy.tokenizer).model_inputs(
        world
    )
    inputs["memory"] = torch.randn(world.n_agents, policy.model.config.hidden_size)
    return inputs


def with_rival_changed(inputs: dict, world: Pricing) -> dict:
    """Firm 1 of every market reads other tokens and another memory."""
    firm1 = torch.from_numpy(world.by_market(np.arange(world.n_agents))[1])
    changed = {k: v.clone() for k, v in inputs.items()}
    changed["input_ids"][firm1] = changed["input_ids"][firm1].roll(1, dims=1)
    changed["memory"][firm1] = torch.randn(len(firm1), changed["memory"].shape[1])
    return changed


def firm0_logits(model: SeatedForest, inputs: dict, world: Pricing) -> torch.Tensor:
    firm0 = torch.from_numpy(world.by_market(np.arange(world.n_agents))[0])
    with torch.inference_mode():
        return model(**inputs).action_logits[firm0]


def test_the_shared_seating_is_the_forest_itself(shipped):
    world = economy()
    inputs = round_inputs(shipped, world)
    seated = SeatedForest([shipped.model], "shared")
    plain = {k: v for k, v in inputs.items() if k != "seat_ids"}
    with torch.inference_mode():
        assert torch.equal(seated(**inputs).action_logits, shipped.model(**plain).action_logits)


@pytest.mark.parametrize("seating", ["masked", "independent"])
def test_invariant_a_masked_firm_decides_the_same_whatever_its_rival_reads(shipped, seating):
    world = economy()
    firms = (
        [shipped.model] if seating == "masked" else [shipped.model, copy.deepcopy(shipped.model)]
    )
    model = SeatedForest(firms, seating)
    inputs = round_inputs(shipped, world)
    before = firm0_logits(model, inputs, world)
    assert torch.equal(before, firm0_logits(model, with_rival_changed(inputs, world), world))


def test_the_invariant_check_can_fail_a_shared_firm_reads_its_rival(shipped):
    world = economy()
    model = SeatedForest([shipped.model], "shared")
    inputs = round_inputs(shipped, world)
    before = firm0_logits(model, inputs, world)
    assert not torch.equal(before, firm0_logits(model, with_rival_changed(inputs, world), world))


def test_independent_firms_each_decide_with_their_own_model(shipped):
    world = economy()
    other = copy.deepcopy(shipped.model)
    with torch.no_grad():
        for p in other.readout.parameters():
            p.add_(0.5)
    inputs = round_inputs(shipped, world)
    both = SeatedForest([shipped.model, other], "independent")
    alone = SeatedForest([shipped.model], "masked")
    with torch.inference_mode():
        mixed, plain = both(**inputs).action_logits, alone(**inputs).action_logits
    seats = inputs["seat_ids"]
    assert torch.equal(mixed[seats == 0], plain[seats == 0])
    assert not torch.equal(mixed[seats == 1], plain[seats == 1])


@pytest.mark.parametrize("seating", ["shared", "masked", "independent"])
def test_action_logits_from_summaries_match_the_forward(random_model, seating):
    cfg = random_model.config
    firms = [random_model]
    if seating == "independent":
        firms.append(copy.deepcopy(random_model))
        with torch.no_grad():
            firms[1].readout.action_head.bias.add_(1.0)
    model = SeatedForest(firms, seating)
    n = 8
    g = torch.Generator().manual_seed(1)
    inputs = {
        "input_ids": torch.randint(0, cfg.vocab_size, (n, cfg.max_agent_tokens), generator=g),
        "attention_mask": torch.ones(n, cfg.max_agent_tokens, dtype=torch.bool),
        "role_ids": torch.zeros(n, dtype=torch.long),
        "tree_ids": torch.arange(n) // 2,
        "seat_ids": torch.arange(n) % 2,
        "memory": torch.randn(n, cfg.hidden_size, generator=g),
    }
    with torch.inference_mode():
        out = model(**inputs)
        again = model.action_logits(out.summaries, inputs["tree_ids"], inputs["seat_ids"])
    assert torch.equal(out.action_logits, again)


def test_seatings_refuse_what_they_cannot_do(shipped):
    with pytest.raises(InvalidInputError, match="seating"):
        SeatedForest([shipped.model], "cartel")
    with pytest.raises(InvalidInputError, match="a model per seat"):
        SeatedForest([shipped.model], "independent")
    with pytest.raises(InvalidInputError, match="one model"):
        SeatedForest([shipped.model, shipped.model], "masked")
    world = economy()
    inputs = round_inputs(shipped, world)
    with pytest.raises(InvalidInputError, match="no latent interventions"):
        SeatedForest([shipped.model], "masked")(
            **inputs, summary_delta=torch.zeros(world.n_agents, shipped.model.config.hidden_size)
        )
    with pytest.raises(InvalidInputError, match="reports no attention"):
        SeatedForest([shipped.model], "shared")(**inputs, return_attention=True)
    with pytest.raises(InvalidInputError, match="at least one firm"):
        empty = {k: v[:0] for k, v in inputs.items()}
        SeatedForest([shipped.model], "masked")(**empty)
    with pytest.raises(InvalidInputError, match="use pricing"):
        firm_seats(make_economy("exchange", 0, n_agents=20))


def test_firm_seats_follow_the_market_layout():
    world = economy(markets=4)
    seats = firm_seats(world)
    assert np.array_equal(world.by_market(seats), np.repeat([[0], [1]], 4, axis=1))


def test_a_saved_seated_forest_loads_to_the_same_decisions(shipped, tmp_path):
    world = economy()
    other = copy.deepcopy(shipped.model)
    with torch.no_grad():
        other.readout.action_head.bias[:15] = torch.arange(15.0)  # firm 1 prices high
    model = SeatedForest([shipped.model, other], "independent")
    save_seated(tmp_path, model, shipped.tokenizer)
    loaded = load_seated(tmp_path)
    assert loaded.model.seating == "independent" and len(loaded.model.firms) == 2
    policy = SeatedPolicy(model, shipped.tokenizer)
    actions = policy.act(world).actions
    assert np.array_equal(actions, loaded.act(economy()).actions)
    seats = firm_seats(world)
    assert actions[seats == 1].mean() > actions[seats == 0].mean()  # the firms kept their seats
    (tmp_path / "seating.json").write_text('{"seating": "masked"}')
    with pytest.raises(InvalidInputError, match="count of firms"):
        load_seated(tmp_path)
    with pytest.raises(InvalidInputError, match="not a seated forest"):
        load_seated(tmp_path / "firm-0")
