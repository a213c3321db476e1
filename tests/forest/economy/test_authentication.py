import hashlib
import hmac

import numpy as np
import pytest
from budget import examples
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from forest.economy.authentication import ChannelKeys, sign, tags_after_edit, verify
from forest.economy.messages import MESSAGE_LEN, Messages
from forest.errors import InvalidInputError

FAST = settings(max_examples=examples(50), deadline=None)
TOKEN = st.integers(0, 39)
ROUND = st.integers(-(2**63), 2**63 - 1)
MASTER = st.binary(min_size=1, max_size=64)
KEY = st.binary(min_size=32, max_size=32)


@st.composite
def batches(draw, min_size=1):
    """(n_agents, Messages) with senders and receivers in range and arbitrary tokens."""
    n_agents = draw(st.integers(2, 8))
    m = draw(st.integers(min_size, 12))
    agent = st.integers(0, n_agents - 1)
    sender = draw(st.lists(agent, min_size=m, max_size=m))
    receiver = draw(st.lists(agent, min_size=m, max_size=m))
    tokens = draw(st.lists(st.lists(TOKEN, min_size=3, max_size=3), min_size=m, max_size=m))
    return n_agents, Messages(
        np.array(sender, dtype=np.int64),
        np.array(receiver, dtype=np.int64),
        np.array(tokens, dtype=np.int64).reshape(m, MESSAGE_LEN),
    )


def _one(sender, receiver, tokens):
    return Messages(
        np.array([sender], dtype=np.int64),
        np.array([receiver], dtype=np.int64),
        np.array([tokens], dtype=np.int64),
    )


def _all_but(m, k):
    expected = np.ones(m, dtype=bool)
    expected[k] = False
    return expected


@FAST
@given(batches(min_size=0), MASTER, ROUND)
def test_untouched_messages_verify(batch, master, round_):
    n_agents, messages = batch
    keys = ChannelKeys.derive(master, n_agents)
    tags = sign(keys, messages, round_)
    assert tags.shape == (len(messages), 32) and tags.dtype == np.uint8
    assert verify(keys, messages, tags, round_).all()


@FAST
@given(batches(), MASTER, ROUND, st.data())
def test_tampered_body_is_rejected(batch, master, round_, data):
    n_agents, messages = batch
    keys = ChannelKeys.derive(master, n_agents)
    tags = sign(keys, messages, round_)
    k = data.draw(st.integers(0, len(messages) - 1))
    j = data.draw(st.integers(0, MESSAGE_LEN - 1))
    tokens = messages.tokens.copy()
    tokens[k, j] = data.draw(TOKEN.filter(lambda t: t != messages.tokens[k, j]))
    tampered = Messages(messages.sender, messages.receiver, tokens)
    np.testing.assert_array_equal(verify(keys, tampered, tags, round_), _all_but(len(messages), k))


@FAST
@given(batches(), MASTER, ROUND, st.data())
def test_forged_sender_is_rejected(batch, master, round_, data):
    n_agents, messages = batch
    keys = ChannelKeys.derive(master, n_agents)
    tags = sign(keys, messages, round_)
    k = data.draw(st.integers(0, len(messages) - 1))
    sender = messages.sender.copy()
    sender[k] = data.draw(st.integers(0, n_agents - 1).filter(lambda s: s != sender[k]))
    forged = Messages(sender, messages.receiver, messages.tokens)
    np.testing.assert_array_equal(verify(keys, forged, tags, round_), _all_but(len(messages), k))


@FAST
@given(batches(), MASTER, ROUND, st.data())
def test_sender_without_a_key_is_rejected_not_raised(batch, master, round_, data):
    n_agents, messages = batch
    keys = ChannelKeys.derive(master, n_agents)
    tags = sign(keys, messages, round_)
    k = data.draw(st.integers(0, len(messages) - 1))
    sender = messages.sender.copy()
    sender[k] = data.draw(st.one_of(st.integers(-(2**63), -1), st.integers(n_agents, 2**63 - 1)))
    invented = Messages(sender, messages.receiver, messages.tokens)
    np.testing.assert_array_equal(verify(keys, invented, tags, round_), _all_but(len(messages), k))


@FAST
@given(batches(), MASTER, ROUND, st.data())
def test_changed_receiver_or_round_is_rejected(batch, master, round_, data):
    n_agents, messages = batch
    keys = ChannelKeys.derive(master, n_agents)
    tags = sign(keys, messages, round_)
    k = data.draw(st.integers(0, len(messages) - 1))
    receiver = messages.receiver.copy()
    receiver[k] = data.draw(st.integers(0, n_agents - 1).filter(lambda r: r != receiver[k]))
    redirected = Messages(messages.sender, receiver, messages.tokens)
    np.testing.assert_array_equal(
        verify(keys, redirected, tags, round_), _all_but(len(messages), k)
    )
    replay_round = data.draw(ROUND.filter(lambda r: r != round_))
    assert not verify(keys, messages, tags, replay_round).any()


@FAST
@given(batches(), st.lists(KEY, min_size=9, max_size=9, unique=True), ROUND)
def test_tag_made_with_another_key_is_rejected(batch, distinct_keys, round_):
    n_agents, messages = batch
    true_keys = ChannelKeys(distinct_keys[:n_agents])
    # Every agent's key replaced by a different key (a rotation of the unique list).
    wrong_keys = ChannelKeys(distinct_keys[1 : n_agents + 1])
    tags = sign(wrong_keys, messages, round_)
    assert not verify(true_keys, messages, tags, round_).any()


@FAST
@given(batches(), MASTER, ROUND, st.data())
def test_arbitrary_tag_bytes_are_rejected(batch, master, round_, data):
    n_agents, messages = batch
    keys = ChannelKeys.derive(master, n_agents)
    tags = sign(keys, messages, round_)
    k = data.draw(st.integers(0, len(messages) - 1))
    guess = np.frombuffer(data.draw(KEY), dtype=np.uint8)
    assume(not np.array_equal(guess, tags[k]))
    guessed = tags.copy()
    guessed[k] = guess
    np.testing.assert_array_equal(
        verify(keys, messages, guessed, round_), _all_but(len(messages), k)
    )


@st.composite
def attacks(draw):
    """A signed batch, the compromised agents (at least one honest agent left) and an honest one."""
    n_agents, original = draw(batches())
    compromised = draw(
        st.lists(st.integers(0, n_agents - 1), min_size=1, max_size=n_agents - 1, unique=True)
    )
    honest = draw(st.sampled_from(sorted(set(range(n_agents)) - set(compromised))))
    return n_agents, original, np.array(compromised), honest


def _is_new(original, sender, receiver, tokens):
    same = (
        (original.sender == sender)
        & (original.receiver == receiver)
        & (original.tokens == tokens).all(axis=1)
    )
    return not same.any()


@FAST
@given(attacks(), MASTER, ROUND, st.data())
def test_attacker_can_sign_only_as_compromised_agents(attack, master, round_, data):
    n_agents, original, compromised, honest = attack
    keys = ChannelKeys.derive(master, n_agents)
    original_tags = sign(keys, original, round_)
    agent = st.integers(0, n_agents - 1)
    tokens = st.lists(TOKEN, min_size=3, max_size=3)

    liar = data.draw(st.sampled_from(compromised.tolist()))
    lie = _one(liar, data.draw(agent), data.draw(tokens))
    new_honest = (honest, data.draw(agent), data.draw(tokens))
    assume(_is_new(original, *new_honest))
    # An honest message seen on the wire, altered in one token.
    k = data.draw(st.sampled_from(range(len(original))))
    altered = Messages(
        original.sender[k : k + 1], original.receiver[k : k + 1], original.tokens[k : k + 1].copy()
    )
    altered.tokens[0, data.draw(st.integers(0, 2))] += 1
    altered_honest = original.sender[k] not in compromised and _is_new(
        original, altered.sender[0], altered.receiver[0], altered.tokens[0]
    )

    edited = Messages.concat(original, lie, _one(*new_honest), altered)
    tags = tags_after_edit(keys, original, original_tags, edited, compromised, round_)
    ok = verify(keys, edited, tags, round_)
    m = len(original)
    assert ok[:m].all()  # unchanged messages, honest ones included, are replayed intact
    assert ok[m]  # a lie from a compromised agent carries a genuine tag
    assert not ok[m + 1]  # a new message from an honest agent cannot be signed
    assert ok[m + 2] != altered_honest  # an altered honest message is rejected


@FAST
@given(batches(), MASTER, ROUND, st.data())
def test_attacker_without_keys_can_only_replay(batch, master, round_, data):
    n_agents, original = batch
    keys = ChannelKeys.derive(master, n_agents)
    original_tags = sign(keys, original, round_)
    new = (
        data.draw(st.integers(0, n_agents - 1)),
        0,
        data.draw(st.lists(TOKEN, min_size=3, max_size=3)),
    )
    assume(_is_new(original, *new))
    edited = Messages.concat(original, _one(*new))
    tags = tags_after_edit(
        keys, original, original_tags, edited, np.array([], dtype=np.int64), round_
    )
    np.testing.assert_array_equal(tags[-1], 0)
    np.testing.assert_array_equal(verify(keys, edited, tags, round_), _all_but(len(edited), -1))


@FAST
@given(MASTER, st.integers(1, 16))
def test_derived_keys_follow_the_stated_formula_and_are_distinct(master, n_agents):
    keys = ChannelKeys.derive(master, n_agents)
    assert keys == ChannelKeys.derive(master, n_agents)
    expected = [
        hmac.new(master, b"agent" + i.to_bytes(8, "little"), hashlib.sha256).digest()
        for i in range(n_agents)
    ]
    assert list(keys.keys) == expected
    assert len(set(keys.keys)) == n_agents
    assert keys.n_agents == n_agents
    assert repr(keys) == f"ChannelKeys(n_agents={n_agents})"  # never the secrets


@FAST
@given(KEY, st.integers(0, 1), st.integers(0, 9), st.lists(TOKEN, min_size=3, max_size=3), ROUND)
def test_tag_is_hmac_of_little_endian_round_sender_receiver_tokens(
    key, sender, receiver, tokens, round_
):
    keys = ChannelKeys([key, bytes(reversed(key))])
    body = b"".join(
        v.to_bytes(8, "little", signed=True) for v in [round_, sender, receiver, *tokens]
    )
    expected = hmac.new(keys.keys[sender], body, hashlib.sha256).digest()
    assert sign(keys, _one(sender, receiver, tokens), round_)[0].tobytes() == expected


def _keys():
    return ChannelKeys.derive(b"master", 3)


_MESSAGE = _one(0, 1, [1, 8, 9])


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        (lambda: ChannelKeys.derive(b"", 3), "master"),
        (lambda: ChannelKeys.derive("text", 3), "master"),
        (lambda: ChannelKeys.derive(b"m", 0), "n_agents"),
        (lambda: ChannelKeys([]), "at least one"),
        (lambda: ChannelKeys([bytes(32), bytes(31)]), "keys[1]"),
        (lambda: ChannelKeys(["x" * 32]), "keys[0]"),
        (lambda: sign(_keys(), _one(3, 0, [1, 8, 9]), 0), "no key for agent 3"),
        (lambda: sign(_keys(), _one(-1, 0, [1, 8, 9]), 0), "no key for agent -1"),
        (lambda: sign(_keys(), _MESSAGE, 2**63), "round_"),
        (lambda: sign(_keys(), "not messages", 0), "Messages"),
        (lambda: verify(_keys(), _MESSAGE, np.zeros((1, 31), np.uint8), 0), "tags"),
        (lambda: verify(_keys(), _MESSAGE, np.zeros((2, 32), np.uint8), 0), "tags"),
        (lambda: verify(_keys(), _MESSAGE, np.zeros((1, 32), np.int64), 0), "uint8"),
        (
            lambda: tags_after_edit(
                _keys(), _MESSAGE, np.zeros((1, 32), np.uint8), _MESSAGE, np.array([3]), 0
            ),
            "compromised",
        ),
        (
            lambda: tags_after_edit(
                _keys(), _MESSAGE, np.zeros((0, 32), np.uint8), _MESSAGE, np.array([0]), 0
            ),
            "original_tags",
        ),
    ],
)
def test_bad_inputs_raise_a_one_line_error(build, fragment):
    with pytest.raises(InvalidInputError) as info:
        build()
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message
