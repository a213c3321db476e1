import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from attacks import AttackView, make_attack
from attacks.message_flooding import flood_budget
from forest.economy import make_economy
from forest.economy.messages import (
    ASK,
    BID,
    DEMAND,
    DIGIT_BASE,
    FIRST_DIGIT,
    MAX_MESSAGE_VALUE,
    MESSAGE_LEN,
    PRICE,
)
from forest.errors import ConfigError
from forest.tokenizer import MESSAGE_SLOTS, MSG_OFFSET, AgentTokenizer


def _view(economy, compromised, round_=0):
    return AttackView(round_, economy, np.asarray(compromised), None, np.random.default_rng(0))


def _traffic(economy):
    """A round of realistic traffic: the expert's own messages plus echoes."""
    economy.step(*economy.expert())
    return economy.expert()


def _recipients(economy, agent):
    sender, receiver = economy.message_recipients()
    return receiver[sender == agent]


def test_flood_is_copies_per_recipient_of_the_role_kind_prepended_to_untouched_traffic():
    economy = make_economy("exchange", 0, n_agents=30)
    actions, messages = _traffic(economy)
    ids = [0, 5, 13]  # buyers and a seller
    out = make_attack("message-flooding").messages(_view(economy, ids), messages)
    extra = len(out) - len(messages)
    assert extra == 3 * sum(_recipients(economy, i).size for i in ids)
    flood, rest = out.select(np.arange(extra)), out.select(np.arange(extra, len(out)))
    assert np.array_equal(rest.tokens, messages.tokens)
    assert np.array_equal(rest.sender, messages.sender)
    assert set(flood.sender.tolist()) == set(ids)
    assert (flood.values == MAX_MESSAGE_VALUE).all()
    expected_kind = np.where(economy.is_buyer[flood.sender], BID, ASK)
    assert np.array_equal(flood.kinds, expected_kind)
    for i in ids:
        sent_to = flood.receiver[flood.sender == i]
        assert sorted(sent_to.tolist()) == sorted(np.repeat(_recipients(economy, i), 3).tolist())
    economy.step(actions, out)  # only neighbours, legal tokens


def test_flood_takes_every_message_slot_of_its_receivers():
    economy = make_economy("supply_chain", 0, n_agents=30)
    _, messages = _traffic(economy)
    ids = np.flatnonzero(economy.parent >= 0)[-2:]
    attack = make_attack("message-flooding", {"value": 777})
    out = attack.messages(_view(economy, ids), messages)
    tokenizer = AgentTokenizer.fit({"supply_chain": economy.observe()})
    tokens = tokenizer.encode(economy, inbox=out).input_ids
    features = len(economy.observation_names)
    for receiver in set(economy.parent[ids].tolist()):
        slots = tokens[receiver, features:].reshape(MESSAGE_SLOTS, MESSAGE_LEN) - MSG_OFFSET
        assert (slots[:, 0] == DEMAND).all()
        values = (slots[:, 1] - FIRST_DIGIT) * DIGIT_BASE + (slots[:, 2] - FIRST_DIGIT)
        assert (values == 777).all()


def test_kind_parameter_overrides_the_role_kind():
    economy = make_economy("pricing", 0, n_agents=20)
    _, messages = _traffic(economy)
    flood = make_attack("message-flooding", {"kind": "demand", "copies": 1}).messages(
        _view(economy, [4]), messages
    )
    assert flood.kinds[0] == DEMAND and flood.sender[0] == 4
    role_flood = make_attack("message-flooding", {"copies": 1}).messages(
        _view(economy, [4]), messages
    )
    assert role_flood.kinds[0] == PRICE


@given(
    copies=st.integers(1, 6),
    max_tokens=st.none() | st.integers(0, 60),
    who=st.sets(st.integers(0, 29), min_size=1, max_size=6),
)
def test_flood_tokens_per_compromised_agent_respect_copies_and_max_tokens(copies, max_tokens, who):
    economy = make_economy("exchange", 2, n_agents=30)
    actions, messages = _traffic(economy)
    ids = np.array(sorted(who))
    attack = make_attack("message-flooding", {"copies": copies, "max_tokens": max_tokens})
    out = attack.messages(_view(economy, ids), messages)
    flood = out.select(np.arange(len(out) - len(messages)))
    for i in ids:
        recipients = _recipients(economy, i)
        sent = flood.select(flood.sender == i)
        cap = copies * recipients.size * MESSAGE_LEN
        if max_tokens is not None:
            cap = min(cap, max_tokens - max_tokens % MESSAGE_LEN)
        assert sent.n_tokens == cap
        # Spread over recipients: no recipient gets two more than another.
        per = np.array([(sent.receiver == r).sum() for r in recipients])
        assert per.max() - per.min() <= 1
    economy.step(actions, out)


def test_flood_budget_counts_whole_messages():
    assert flood_budget(3, np.array([1, 4]), None).tolist() == [3, 12]
    assert flood_budget(3, np.array([1, 4]), 20).tolist() == [3, 6]
    assert flood_budget(3, np.array([1, 4]), 2).tolist() == [0, 0]


def test_suppliers_have_nobody_to_flood_and_the_attack_waits_for_its_start():
    economy = make_economy("supply_chain", 0, n_agents=30)
    _, messages = _traffic(economy)
    suppliers = np.flatnonzero(economy.parent < 0)
    out = make_attack("message-flooding").messages(_view(economy, suppliers), messages)
    assert np.array_equal(out.tokens, messages.tokens)
    late = make_attack("message-flooding", {"start_round": 3})
    assert late.messages(_view(economy, [20], round_=2), messages) is messages
    assert len(late.messages(_view(economy, [20], round_=3), messages)) == len(messages) + 3


def test_bad_flooding_parameters_are_config_errors():
    for params, field in (
        ({"copies": 0}, "copies"),
        ({"value": MAX_MESSAGE_VALUE + 1}, "value"),
        ({"kind": "shout"}, "kind"),
        ({"max_tokens": -3}, "max_tokens"),
    ):
        with pytest.raises(ConfigError, match=field):
            make_attack("message-flooding", params)
