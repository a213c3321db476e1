import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from forest.economy.messages import (
    DEMAND,
    ECHO,
    MAX_MESSAGE_VALUE,
    MESSAGE_LEN,
    PRICE,
    VOCAB_SIZE,
    Messages,
    validate_messages,
)
from forest.errors import InvalidInputError


@given(st.lists(st.integers(0, MAX_MESSAGE_VALUE), min_size=1, max_size=50))
def test_encoded_values_decode_to_themselves(values):
    messages = Messages.make(PRICE, np.zeros(len(values)), np.ones(len(values)), np.array(values))
    np.testing.assert_array_equal(messages.values, values)
    assert messages.tokens.max() < VOCAB_SIZE
    assert messages.n_tokens == MESSAGE_LEN * len(values)


def test_echoes_reverse_direction_and_skip_echoes():
    sent = Messages.make(DEMAND, [1, 2], [3, 4], [7, 9])
    echoes = sent.echoes()
    np.testing.assert_array_equal(echoes.sender, [3, 4])
    np.testing.assert_array_equal(echoes.receiver, [1, 2])
    np.testing.assert_array_equal(echoes.values, [7, 9])
    assert np.all(echoes.kinds == ECHO)
    assert len(echoes.echoes()) == 0


@pytest.mark.parametrize(
    ("messages", "fragment"),
    [
        (Messages(np.array([0]), np.array([1]), np.array([[DEMAND, 8]])), "messages.tokens"),
        (Messages(np.array([0]), np.array([9]), np.array([[DEMAND, 8, 8]])), "messages.receiver"),
        (Messages(np.array([0]), np.array([1]), np.array([[0, 8, 8]])), "kind"),
        (Messages(np.array([0]), np.array([1]), np.array([[DEMAND, 3, 8]])), "digits"),
        (Messages(np.array([1]), np.array([1]), np.array([[DEMAND, 8, 8]])), "itself"),
        (Messages(np.array([0.0]), np.array([1]), np.array([[DEMAND, 8, 8]])), "dtype"),
    ],
)
def test_malformed_messages_are_rejected_with_the_field_named(messages, fragment):
    with pytest.raises(InvalidInputError, match=fragment):
        validate_messages(messages, n_agents=5)


def test_non_message_object_is_rejected():
    with pytest.raises(InvalidInputError, match="Messages batch"):
        validate_messages([(0, 1, 2)], n_agents=5)
