"""The encoding cache (``forest.encoding_cache``): an agent row seen before is not encoded
again, and nothing it returns differs by a bit from encoding every row afresh; trained
weights, a caller's edits and a batch-dependent encoder cannot make it return stale or
different summaries."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from forest.economy import make_economy
from forest.encoding_cache import EncodingCache, encode_rows
from forest.model import ForestConfig, ForestModel
from forest.model.encoder import MIN_CHUNK
from forest.policy import ForestPolicy
from forest.tokenizer import AGENT_TOKENS, VOCAB_SIZE, AgentTokenizer

AGENTS = 150  # the tiny preset encodes 64 agents a chunk: chunks of 64, 64 and 22


@pytest.fixture(scope="module")
def parts():
    torch.manual_seed(0)
    config = ForestConfig.preset("tiny", vocab_size=VOCAB_SIZE, max_agent_tokens=AGENT_TOKENS)
    return ForestModel(config), AgentTokenizer.fit_on_experts(n_agents=60, rounds=4, seeds=1)


def fresh(model, inputs):
    with torch.no_grad():
        keys = ("input_ids", "attention_mask", "role_ids", "memory")
        return model.encode(*(inputs[k] for k in keys))


def test_an_attacked_round_encodes_only_its_changed_rows_and_equals_a_fresh_encode(parts):
    """The twin's rounds fill the cache; in the "attacked" copy three agents observe something
    else from round 2: only their rows are new that round, and the round after only theirs and
    those of the agents their actions reached."""
    model, tokenizer = parts
    cache = EncodingCache()
    twin, attacked = (ForestPolicy(model, tokenizer, encodings=cache) for _ in range(2))
    economies = [make_economy("supply_chain", seed=0, n_agents=AGENTS) for _ in range(2)]
    for round_ in range(4):
        for policy, economy, lie in zip(
            (twin, attacked), economies, (False, round_ >= 2), strict=True
        ):
            observations = economy.observe().copy()
            if lie:
                observations[[3, 70, 140]] += 5.0
            inputs = policy.model_inputs(economy, observations=observations)
            before = cache.encoded_rows
            summaries = policy.encoded(inputs)
            assert torch.equal(summaries, fresh(model, inputs))
            if policy is attacked:
                new = cache.encoded_rows - before
                if round_ < 3:
                    assert new == (3 if lie else 0)
                else:
                    assert 3 <= new < AGENTS // 2, new
            decided = policy.decide(economy)
            step = policy.send(economy, decided, decided.outgoing)
            economy.step(step.actions, step.messages)
    assert cache.exact is True


def test_a_caller_may_edit_what_it_gets_without_touching_the_cache(parts):
    model, tokenizer = parts
    policy = ForestPolicy(model, tokenizer)
    inputs = policy.model_inputs(make_economy("exchange", seed=2, n_agents=AGENTS))
    first = policy.encoded(inputs)
    kept = first.clone()
    first += 1.0
    assert torch.equal(policy.encoded(inputs), kept)


def test_training_the_weights_forgets_what_the_old_weights_encoded(parts):
    model, tokenizer = parts
    model = ForestModel(model.config)
    model.load_state_dict(parts[0].state_dict())
    policy = ForestPolicy(model, tokenizer)
    inputs = policy.model_inputs(make_economy("pricing", seed=1, n_agents=AGENTS))
    old = policy.encoded(inputs)
    with torch.no_grad():
        next(model.parameters()).add_(0.5)  # what an optimiser step does: in place
    new = policy.encoded(inputs)
    assert not torch.equal(new, old) and torch.equal(new, fresh(model, inputs))


class BatchDependent(torch.nn.Module):
    """An encoder whose rows depend on their batch (a mean over it): no row may be reused."""

    def __init__(self, config: ForestConfig) -> None:
        super().__init__()
        self.config = config
        self.scale = torch.nn.Parameter(torch.ones(()))

    def encode(self, input_ids, attention_mask, role_ids, memory):
        rows = input_ids.float() * self.scale
        return rows + rows.mean(dim=0, keepdim=True)


def test_where_rows_depend_on_their_batch_the_cache_switches_itself_off(parts):
    model = BatchDependent(parts[0].config)
    cache = EncodingCache()
    ids = torch.arange(AGENTS * 4).reshape(AGENTS, 4)
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids, dtype=torch.bool),
              "role_ids": torch.zeros(AGENTS, dtype=torch.long), "memory": None}  # fmt: skip
    assert torch.equal(cache.encode(model, inputs), model.encode(ids, None, None, None))
    assert cache.exact is False
    half = {**inputs, "input_ids": ids.flip(0)}  # every row seen, in another batch
    assert torch.equal(cache.encode(model, half), model.encode(ids.flip(0), None, None, None))


def test_no_chunk_is_encoded_shorter_than_the_minimum(parts, monkeypatch):
    model, tokenizer = parts
    sizes = []
    encode = model.encoder.encode_chunk
    monkeypatch.setattr(
        model.encoder, "encode_chunk", lambda x, mask: sizes.append(len(x)) or encode(x, mask)
    )
    inputs = ForestPolicy(model, tokenizer).model_inputs(
        make_economy("supply_chain", seed=0, n_agents=AGENTS)
    )
    for rows in (np.array([5]), np.arange(65), np.arange(64 + MIN_CHUNK - 1)):
        sizes.clear()
        out = encode_rows(model, inputs, rows)
        assert out.shape[0] == rows.size and min(sizes) >= MIN_CHUNK
        assert torch.equal(out, fresh(model, inputs)[torch.from_numpy(rows)])


def test_the_cache_keeps_at_most_its_row_budget(parts):
    model, tokenizer = parts
    cache = EncodingCache(max_rows=200)
    policy = ForestPolicy(model, tokenizer, encodings=cache)
    economy = make_economy("exchange", seed=0, n_agents=AGENTS)
    for _ in range(3):
        step = policy.act(economy)
        economy.step(step.actions, step.messages)
    assert len(cache._rows) <= 200


@pytest.mark.parametrize("agents", [3, 65, 66, 130])
def test_with_memory_and_a_short_last_chunk_the_policy_decides_as_the_model_does(parts, agents):
    """130 agents in chunks of 64 leave a last chunk of 2: padded, in the model's own encode
    as in the cache's, its agents get the bits they would get in any batch."""
    model, tokenizer = parts
    policy = ForestPolicy(model, tokenizer, encodings=EncodingCache())
    economy = make_economy("supply_chain", seed=0, n_agents=agents)
    for _ in range(2):  # the second round has memory
        inputs = policy.model_inputs(economy)
        assert torch.equal(policy.encoded(inputs), fresh(model, inputs))
        some = np.arange(agents)[:: max(1, agents // 3)]
        assert torch.equal(
            policy.encodings.encode(model, {k: v if v is None or k == "tree_ids" else v[some]
                                            for k, v in inputs.items()}),
            fresh(model, inputs)[torch.from_numpy(some)],
        )  # fmt: skip
        decided = policy.decide(economy)
        with torch.no_grad():
            scratch = model(**policy.model_inputs(economy))
        assert torch.equal(decided.output.action_logits, scratch.action_logits)
        step = policy.send(economy, decided, decided.outgoing)
        economy.step(step.actions, step.messages)
    assert policy.encodings.exact is True


def test_a_policys_own_cache_lives_for_one_round(parts):
    model, tokenizer = parts
    policy = ForestPolicy(model, tokenizer)
    economy = make_economy("pricing", seed=0, n_agents=AGENTS)
    decided = policy.decide(economy)
    assert policy.encodings._rows  # one per distinct agent row (identical agents share one)
    policy.send(economy, decided, decided.outgoing)
    assert not policy.encodings._rows
