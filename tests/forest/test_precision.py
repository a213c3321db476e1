"""The precision switch: fp32 leaves the forest as it is, bf16 autocasts it and decodes in fp32."""

import numpy as np
import pytest
import torch

from forest.economy import make_economy
from forest.errors import InvalidInputError
from forest.model import ForestConfig, ForestModel
from forest.policy import ForestPolicy, on_host
from forest.precision import action_agreement, running_in
from forest.router import Router
from forest.tokenizer import AGENT_TOKENS, VOCAB_SIZE, AgentTokenizer


@pytest.fixture(scope="module")
def policy():
    torch.manual_seed(0)
    config = ForestConfig.preset("tiny", vocab_size=VOCAB_SIZE, max_agent_tokens=AGENT_TOKENS)
    tokenizer = AgentTokenizer.fit_on_experts(n_agents=60, rounds=4, seeds=1)
    return ForestPolicy(ForestModel(config), tokenizer, Router())


def test_fp32_runs_the_forest_as_it_is_and_bf16_autocasts_it():
    with running_in("fp32", "cpu"):
        assert not torch.is_autocast_enabled("cpu")
    with running_in("bf16", "cpu"):
        assert torch.is_autocast_enabled("cpu")
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16
    assert not torch.is_autocast_enabled("cpu")


def test_an_unknown_precision_is_refused_by_name():
    with pytest.raises(InvalidInputError, match="--dtype"), running_in("fp16", "cpu"):
        pass


def test_float32_logits_on_the_cpu_are_decoded_as_they_are():
    logits = torch.randn(5, 7)
    assert on_host(logits) is logits  # the default path copies and rounds nothing
    assert on_host(logits.bfloat16()).dtype == torch.float32
    assert on_host(logits.double()).dtype == torch.float64


def test_a_bf16_round_decodes_valid_actions_and_float32_confidences(policy):
    economy = make_economy("supply_chain", seed=0, n_agents=60)
    reference = policy.act(economy)
    lowered = ForestPolicy(policy.model, policy.tokenizer, policy.router)
    with running_in("bf16", "cpu"):
        step = lowered.act(economy)
    assert step.output.action_logits.dtype == torch.bfloat16  # autocast reached the heads
    assert step.confidence.dtype == np.float32 and np.isfinite(step.confidence).all()
    assert step.actions.shape == reference.actions.shape
    economy.step(step.actions, step.messages)  # the economy accepts them
    assert 0.0 <= action_agreement(step.actions, reference.actions) <= 1.0


def test_agreement_is_the_share_of_equal_actions():
    reference = np.array([1, 2, 3, 4])
    assert action_agreement(reference.copy(), reference) == 1.0
    assert action_agreement(np.array([1, 2, 0, 0]), reference) == 0.5
    with pytest.raises(InvalidInputError, match="actions"):
        action_agreement(np.array([1, 2]), reference)
