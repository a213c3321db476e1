import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from forest.economy import Messages, make_economy
from forest.economy.messages import DEMAND, MESSAGE_LEN
from forest.errors import InvalidInputError
from forest.tokenizer import (
    AGENT_TOKENS,
    MAX_FEATURES,
    MESSAGE_SLOTS,
    MSG_OFFSET,
    OBS_BINS,
    OBS_OFFSET,
    PAD,
    VOCAB_SIZE,
    AgentTokenizer,
    read_messages,
)


@pytest.fixture(scope="module")
def tokenizer():
    return AgentTokenizer.fit_on_experts(n_agents=60, rounds=8, seeds=1)


@pytest.mark.parametrize("name", ["supply_chain", "pricing", "exchange"])
def test_every_token_is_in_the_vocabulary_and_padding_is_masked(tokenizer, name):
    economy = make_economy(name, seed=0, n_agents=60)
    economy.step(*economy.expert())
    tokens = tokenizer.encode(economy)
    features = len(economy.observation_names)
    assert features <= MAX_FEATURES
    assert tokens.input_ids.shape == (60, features + MESSAGE_SLOTS * MESSAGE_LEN)
    assert tokens.input_ids.shape[1] <= AGENT_TOKENS
    assert tokens.input_ids.min() >= 0 and tokens.input_ids.max() < VOCAB_SIZE
    np.testing.assert_array_equal(tokens.attention_mask, tokens.input_ids != PAD)
    assert tokens.attention_mask[:, :features].all()


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=40))
def test_observation_tokens_are_monotone_in_the_feature_value(values):
    tokenizer = AgentTokenizer({"pricing": [list(np.linspace(-5, 5, OBS_BINS - 1))] * 8})
    obs = np.zeros((len(values), 8))
    obs[:, 3] = np.sort(values)
    tokens = tokenizer.observation_tokens("pricing", obs)[:, 3]
    assert np.all(np.diff(tokens) >= 0)
    assert tokens.min() >= OBS_OFFSET + 3 * OBS_BINS
    assert tokens.max() < OBS_OFFSET + 4 * OBS_BINS


def test_received_messages_are_copied_into_the_slots_in_delivery_order(tokenizer):
    economy = make_economy("supply_chain", seed=0, n_agents=60)
    child = int(np.flatnonzero(economy.parent >= 0)[0])
    parent = int(economy.parent[child])
    inbox = Messages.make(DEMAND, [child] * 5, [parent] * 5, [1, 2, 3, 4, 5])
    ids = tokenizer.encode(economy, inbox).input_ids[parent]
    features = len(economy.observation_names)
    slots = ids[features:].reshape(MESSAGE_SLOTS, MESSAGE_LEN) - MSG_OFFSET
    np.testing.assert_array_equal(slots, inbox.tokens[:MESSAGE_SLOTS])


def test_unfitted_economy_and_bad_observations_are_refused():
    tokenizer = AgentTokenizer({"pricing": [[0.0]] * 8})
    with pytest.raises(InvalidInputError, match="not fitted on 'exchange'"):
        tokenizer.observation_tokens("exchange", np.zeros((2, 7)))
    with pytest.raises(InvalidInputError, match="shape"):
        tokenizer.observation_tokens("pricing", np.zeros((2, 3)))
    with pytest.raises(InvalidInputError, match="NaN"):
        tokenizer.observation_tokens("pricing", np.full((2, 8), np.nan))


def test_json_round_trip_gives_the_same_tokens(tokenizer):
    again = AgentTokenizer.from_json(tokenizer.to_json())
    economy = make_economy("exchange", seed=1, n_agents=60)
    np.testing.assert_array_equal(
        again.encode(economy).input_ids, tokenizer.encode(economy).input_ids
    )


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"pricing": [[0.0]]}', '{"barter": []}'])
def test_malformed_tokenizer_files_are_refused(text):
    with pytest.raises(InvalidInputError):
        AgentTokenizer.from_json(text)


@given(st.lists(st.integers(0, 5), max_size=30))
def test_read_messages_are_each_receivers_first_slots_in_delivery_order(receivers):
    inbox = Messages.make(
        DEMAND, np.zeros(len(receivers)), np.array(receivers), np.ones(len(receivers))
    )
    read = read_messages(inbox)
    seen: dict[int, int] = {}
    for k, receiver in enumerate(receivers):
        seen[receiver] = seen.get(receiver, 0) + 1
        assert read[k] == (seen[receiver] <= MESSAGE_SLOTS)


def test_the_tokenizer_writes_exactly_the_read_messages_into_the_slots(tokenizer):
    economy = make_economy("supply_chain", seed=0, n_agents=60)
    economy.step(*economy.expert())
    inbox = economy.inbox
    values = np.arange(len(inbox)) % 500  # tell the messages apart by their value
    economy.inbox = Messages.make(DEMAND, inbox.sender, inbox.receiver, values)
    ids = tokenizer.encode(economy).input_ids
    features = len(economy.observation_names)
    read = read_messages(economy.inbox)
    assert read.sum() < len(inbox)  # some receivers got more than they read
    for receiver in range(economy.n_agents):
        slots = ids[receiver, features:].reshape(MESSAGE_SLOTS, MESSAGE_LEN)
        written = [tuple(row - MSG_OFFSET) for row in slots if row[0] != PAD]
        mine = np.flatnonzero(read & (economy.inbox.receiver == receiver))
        assert written == [tuple(economy.inbox.tokens[k]) for k in mine]
