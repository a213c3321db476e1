import numpy as np
import pytest
import torch

from forest.economy import make_economy
from forest.economy.messages import ECHO, validate_messages
from forest.interventions import Interventions
from forest.model import ForestConfig, ForestModel
from forest.policy import ForestPolicy
from forest.router import Router
from forest.tokenizer import AGENT_TOKENS, VOCAB_SIZE, AgentTokenizer


@pytest.fixture(scope="module")
def policy_parts():
    torch.manual_seed(0)
    config = ForestConfig.preset("tiny", vocab_size=VOCAB_SIZE, max_agent_tokens=AGENT_TOKENS)
    return ForestModel(config), AgentTokenizer.fit_on_experts(n_agents=60, rounds=4, seeds=1)


@pytest.mark.parametrize("name", ["supply_chain", "pricing", "exchange"])
def test_an_untrained_forest_still_plays_only_valid_rounds(policy_parts, name):
    model, tokenizer = policy_parts
    policy = ForestPolicy(model, tokenizer)
    economy = make_economy(name, seed=0, n_agents=60)
    for _ in range(3):
        step = policy.act(economy)
        validate_messages(step.messages, economy.n_agents)
        economy.step(step.actions, step.messages)
    assert policy.memory.shape == (60, model.config.hidden_size)


def test_each_agent_sends_its_message_to_its_recipients_and_echoes_what_it_got(policy_parts):
    model, tokenizer = policy_parts
    economy = make_economy("pricing", seed=0, n_agents=60)
    economy.step(*economy.expert())
    step = ForestPolicy(model, tokenizer).act(economy)
    sender, receiver = economy.message_recipients()
    own, echoes = (
        step.messages.select(np.arange(len(sender))),
        step.messages.select(np.arange(len(sender), len(step.messages))),
    )
    np.testing.assert_array_equal(own.sender, sender)
    np.testing.assert_array_equal(own.receiver, receiver)
    assert np.all(echoes.kinds == ECHO) and len(echoes) == len(economy.inbox)


def test_router_prunes_what_the_policy_sends(policy_parts):
    model, tokenizer = policy_parts
    economy = make_economy("exchange", seed=0, n_agents=60)
    step = ForestPolicy(model, tokenizer, Router(threshold=0.0, keep_budget=0.5)).act(economy)
    assert step.routed.tokens_kept <= step.routed.tokens_in / 2
    assert step.messages.n_tokens == step.routed.tokens_kept


def test_an_agent_masked_out_of_the_aggregation_cannot_move_the_others(policy_parts):
    model, tokenizer = policy_parts
    economy = make_economy("exchange", seed=0, n_agents=60)
    weights = torch.ones(60)
    weights[7] = 0.0
    delta = torch.zeros(60, model.config.hidden_size)
    delta[7] = 1e3
    base = ForestPolicy(model, tokenizer).act(economy, Interventions(aggregation_weights=weights))
    poisoned = ForestPolicy(model, tokenizer).act(
        economy, Interventions(summary_delta=delta, aggregation_weights=weights)
    )
    others = np.arange(60) != 7
    torch.testing.assert_close(
        poisoned.output.action_logits[others], base.output.action_logits[others]
    )


def test_chunked_decoding_equals_decoding_all_agents_at_once(monkeypatch):
    import forest.policy as policy_module
    from forest.policy import decode_actions

    torch.manual_seed(0)
    logits = torch.randn(1000, 64)
    valid = torch.randint(1, 65, (1000,))
    whole = decode_actions(logits, valid)
    monkeypatch.setattr(policy_module, "DECODE_CHUNK", 7)
    chunked = decode_actions(logits, valid)
    assert torch.equal(whole[0], chunked[0]) and torch.equal(whole[1], chunked[1])
    masked = logits.masked_fill(torch.arange(64)[None, :] >= valid[:, None], float("-inf"))
    assert torch.equal(whole[0], masked.argmax(dim=1))
    assert torch.allclose(whole[1], torch.softmax(masked, 1).max(dim=1).values)
    assert (whole[0] < valid).all()


def test_decisions_from_cached_encodings_equal_the_model_deciding_from_scratch(policy_parts):
    model, tokenizer = policy_parts
    economy = make_economy("exchange", seed=1, n_agents=60)
    policy = ForestPolicy(model, tokenizer)
    for _ in range(3):
        decided = policy.decide(economy)
        with torch.no_grad():
            scratch = model(**policy.model_inputs(economy))
        assert torch.equal(decided.output.action_logits, scratch.action_logits)
        step = policy.send(economy, decided, decided.outgoing)
        economy.step(step.actions, step.messages)
