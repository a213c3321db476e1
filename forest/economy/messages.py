"""The inter-agent message channel shared by every economy.

A message is ``MESSAGE_LEN`` tokens from a small vocabulary: a kind token followed by a value
written as two base-32 digits, so a message carries one integer in ``[0, MAX_MESSAGE_VALUE]``:

    [DEMAND, d1, d0]   a retailer's customer demand to its warehouse (supply chain)
    [PRICE,  d1, d0]   a firm's price index quoted to its rivals (pricing)
    [BID/ASK, d1, d0]  a trader's intended bid or ask level to others in its market (exchange)
    [ECHO,   d1, d0]   an acknowledgement that repeats a received value back to its sender

Echoes carry nothing the receiver did not already know: they are the redundant traffic a router
should learn to drop. Messages sent in round t are delivered in round t + 1 together with the
sender id, which the channel does not authenticate (that hole is what message attacks use).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from forest.errors import InvalidInputError

PAD = 0
DEMAND, PRICE, BID, ASK, ECHO = 1, 2, 3, 4, 5
KIND_NAMES = {DEMAND: "DEMAND", PRICE: "PRICE", BID: "BID", ASK: "ASK", ECHO: "ECHO"}
N_KIND_TOKENS = 8  # kinds 1..7; 6 and 7 are free for attacks and later channels
DIGIT_BASE = 32
FIRST_DIGIT = N_KIND_TOKENS
VOCAB_SIZE = FIRST_DIGIT + DIGIT_BASE
MESSAGE_LEN = 3
MAX_MESSAGE_VALUE = DIGIT_BASE * DIGIT_BASE - 1


def encode(kind: int | np.ndarray, values: np.ndarray) -> np.ndarray:
    """Token rows ``(M, MESSAGE_LEN)`` for integer values, saturating at ``MAX_MESSAGE_VALUE``.

    Saturation is part of the channel's definition (a two-digit field), not a silent repair:
    callers that need exact values keep them below the maximum.
    """
    values = np.clip(np.asarray(values, dtype=np.int64), 0, MAX_MESSAGE_VALUE)
    tokens = np.empty((values.shape[0], MESSAGE_LEN), dtype=np.int64)
    tokens[:, 0] = kind
    tokens[:, 1] = FIRST_DIGIT + values // DIGIT_BASE
    tokens[:, 2] = FIRST_DIGIT + values % DIGIT_BASE
    return tokens


@dataclass(frozen=True)
class Messages:
    """A batch of messages: ``tokens[k]`` goes from ``sender[k]`` to ``receiver[k]``."""

    sender: np.ndarray  # (M,) int64
    receiver: np.ndarray  # (M,) int64
    tokens: np.ndarray  # (M, MESSAGE_LEN) int64

    @staticmethod
    def empty() -> Messages:
        none = np.zeros(0, dtype=np.int64)
        return Messages(none, none.copy(), np.zeros((0, MESSAGE_LEN), dtype=np.int64))

    @staticmethod
    def make(kind: int, sender: np.ndarray, receiver: np.ndarray, values: np.ndarray) -> Messages:
        sender = np.asarray(sender, dtype=np.int64)
        return Messages(sender, np.asarray(receiver, dtype=np.int64), encode(kind, values))

    @staticmethod
    def concat(*batches: Messages) -> Messages:
        batches = tuple(b for b in batches if len(b))
        if not batches:
            return Messages.empty()
        return Messages(
            np.concatenate([b.sender for b in batches]),
            np.concatenate([b.receiver for b in batches]),
            np.concatenate([b.tokens for b in batches]),
        )

    def __len__(self) -> int:
        return int(self.sender.shape[0])

    @property
    def n_tokens(self) -> int:
        return len(self) * MESSAGE_LEN

    @property
    def kinds(self) -> np.ndarray:
        return self.tokens[:, 0]

    @property
    def values(self) -> np.ndarray:
        """Decoded integer values; meaningless for rows whose digits are not digit tokens."""
        return (self.tokens[:, 1] - FIRST_DIGIT) * DIGIT_BASE + (self.tokens[:, 2] - FIRST_DIGIT)

    def select(self, keep: np.ndarray) -> Messages:
        """The messages where ``keep`` (a bool mask or indices) holds."""
        idx = np.flatnonzero(keep) if np.asarray(keep).dtype == bool else np.asarray(keep)
        return Messages(
            self.sender.take(idx), self.receiver.take(idx), self.tokens.take(idx, axis=0)
        )

    def of_kind(self, kind: int) -> Messages:
        return self.select(self.kinds == kind)

    def echoes(self) -> Messages:
        """The acknowledgements receivers send back: same tokens, kind ECHO, reversed direction."""
        informative = self.select(self.kinds != ECHO)
        tokens = informative.tokens.copy()
        tokens[:, 0] = ECHO
        return Messages(informative.receiver, informative.sender, tokens)

    def relabel(self, new_index: np.ndarray) -> Messages:
        """The same messages after agent ``i`` became agent ``new_index[i]``."""
        return Messages(new_index[self.sender], new_index[self.receiver], self.tokens)


def validate_messages(messages: Any, n_agents: int) -> Messages:
    """Check a message batch from outside (a policy, a model or an attacker) before delivery."""
    if not isinstance(messages, Messages):
        raise InvalidInputError(
            f"messages: expected a Messages batch or None, got {type(messages)}"
        )
    m = len(messages)
    for name, arr, shape in (
        ("messages.sender", messages.sender, (m,)),
        ("messages.receiver", messages.receiver, (m,)),
        ("messages.tokens", messages.tokens, (m, MESSAGE_LEN)),
    ):
        arr = np.asarray(arr)
        if arr.shape != shape:
            raise InvalidInputError(f"{name}: expected shape {shape}, got {arr.shape}")
        if arr.dtype.kind not in "iu":
            raise InvalidInputError(f"{name}: expected an integer dtype, got {arr.dtype}")
    if m == 0:
        return messages
    for name, arr, high in (
        ("messages.sender", messages.sender, n_agents - 1),
        ("messages.receiver", messages.receiver, n_agents - 1),
        ("messages.tokens", messages.tokens, VOCAB_SIZE - 1),
    ):
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > high:
            raise InvalidInputError(f"{name}: expected values in [0, {high}], got [{lo}, {hi}]")
    # Column checks on a flat view: boolean work on (M, 3) rows is several times slower.
    flat = np.ascontiguousarray(messages.tokens).reshape(-1)
    kinds = flat[0::MESSAGE_LEN]
    if kinds.min() < 1 or kinds.max() >= N_KIND_TOKENS:
        raise InvalidInputError(
            "messages.tokens: the first token of a message must be a kind "
            f"in [1, {N_KIND_TOKENS - 1}]"
        )
    if min(flat[k::MESSAGE_LEN].min() for k in range(1, MESSAGE_LEN)) < FIRST_DIGIT:
        raise InvalidInputError(
            f"messages.tokens: value tokens must be digits in [{FIRST_DIGIT}, {VOCAB_SIZE - 1}]"
        )
    if np.any(messages.sender == messages.receiver):
        raise InvalidInputError("messages: an agent cannot send a message to itself")
    return messages
