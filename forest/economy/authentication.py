"""Authenticating the message channel with per-agent HMAC keys.

The channel in ``messages.py`` delivers every message with its ``sender`` id and trusts that id:
anyone who can write to the channel can speak in any agent's name, and nothing notices a token
changed on the way. Here each agent holds a secret 32-byte key and every message carries a tag,
HMAC-SHA256 under its sender's key over the round, sender, receiver and tokens. A receiver who
checks the tags therefore rejects:

* a forged sender (the tag was not made with the claimed sender's key),
* a tampered body or a redirected message (the tag covers receiver and tokens),
* a replay of a genuine message in a later round (the round is signed too).

What it does not stop: a compromised agent holds its own key, so it can still sign any lie it
likes under its own name. Authentication shows who said something, not whether it is true.
"""

from __future__ import annotations

import hashlib
import hmac
import operator
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from forest.economy.messages import MESSAGE_LEN, Messages
from forest.errors import InvalidInputError

KEY_BYTES = 32
TAG_BYTES = 32  # the size of a SHA-256 digest
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True, repr=False)
class ChannelKeys:
    """The secret keys of agents ``0 .. n_agents - 1``: ``keys[i]`` is agent ``i``'s key.

    The repr leaves the keys out, so logging a config never leaks them.
    """

    keys: tuple[bytes, ...]

    def __init__(self, keys: Sequence[bytes]) -> None:
        keys = tuple(keys)
        if not keys:
            raise InvalidInputError("keys: expected at least one agent key, got none")
        for i, key in enumerate(keys):
            if not isinstance(key, bytes) or len(key) != KEY_BYTES:
                raise InvalidInputError(
                    f"keys[{i}]: expected {KEY_BYTES} bytes, got {type(key).__name__}"
                    + (f" of length {len(key)}" if isinstance(key, bytes) else "")
                )
        object.__setattr__(self, "keys", keys)

    @staticmethod
    def derive(master: bytes, n_agents: int) -> ChannelKeys:
        """Key ``i`` is HMAC-SHA256(master, b"agent" + i as 8-byte little-endian).

        Deterministic in ``master``, so a run with the same master secret reproduces.
        """
        if not isinstance(master, bytes) or not master:
            raise InvalidInputError("master: expected non-empty bytes")
        n_agents = operator.index(n_agents)
        if n_agents < 1:
            raise InvalidInputError(f"n_agents: expected at least 1, got {n_agents}")
        return ChannelKeys(
            [
                hmac.digest(master, b"agent" + i.to_bytes(8, "little"), hashlib.sha256)
                for i in range(n_agents)
            ]
        )

    @property
    def n_agents(self) -> int:
        return len(self.keys)

    def __repr__(self) -> str:
        return f"ChannelKeys(n_agents={self.n_agents})"


def sign(keys: ChannelKeys, messages: Messages, round_: int) -> np.ndarray:
    """Tags ``(M, 32)`` uint8: row k is HMAC-SHA256 under ``sender[k]``'s key of message k."""
    bodies = _canonical_bodies(messages, round_)
    bad = (messages.sender < 0) | (messages.sender >= keys.n_agents)
    if np.any(bad):
        raise InvalidInputError(
            f"messages.sender: no key for agent {int(messages.sender[bad][0])}; "
            f"keys cover agents [0, {keys.n_agents - 1}]"
        )
    senders = messages.sender.tolist()
    return _tags([_mac(keys.keys[s], body) for s, body in zip(senders, bodies, strict=True)])


def verify(keys: ChannelKeys, messages: Messages, tags: np.ndarray, round_: int) -> np.ndarray:
    """``(M,)`` bool: True where ``tags[k]`` is the genuine tag of message k in this round.

    A sender with no key is rejected (False) rather than raised: that is what a receiver sees
    when an attacker invents an agent id.
    """
    bodies = _canonical_bodies(messages, round_)
    tags = _checked_tags(tags, len(messages), "tags")
    ok = np.zeros(len(messages), dtype=bool)
    for k, (sender, body) in enumerate(zip(messages.sender.tolist(), bodies, strict=True)):
        if 0 <= sender < keys.n_agents:
            ok[k] = hmac.compare_digest(_mac(keys.keys[sender], body), tags[k].tobytes())
    return ok


def tags_after_edit(
    keys: ChannelKeys,
    original: Messages,
    original_tags: np.ndarray,
    edited: Messages,
    compromised: np.ndarray,
    round_: int,
) -> np.ndarray:
    """The best tags an attacker can attach to ``edited``, an edit of the signed ``original``.

    Threat model: the attacker sees the channel (``original`` and its tags) and holds the keys
    of the ``compromised`` agents only; a compromised agent holds only its own key. So, per
    message of ``edited``:

    * sender compromised: a genuine tag, signed with that agent's key;
    * otherwise, an identical message (sender, receiver, tokens) in ``original``: its tag,
      replayed from the wire;
    * otherwise a forgery: an HMAC under a key it holds (the lowest-numbered compromised
      agent's), or all zeros if it holds none. Verification rejects it unless HMAC is broken.
    """
    original_bodies = _canonical_bodies(original, round_)
    original_tags = _checked_tags(original_tags, len(original), "original_tags")
    bodies = _canonical_bodies(edited, round_)
    compromised = np.unique(np.asarray(compromised, dtype=np.int64).reshape(-1))
    if compromised.size and (compromised[0] < 0 or compromised[-1] >= keys.n_agents):
        raise InvalidInputError(
            f"compromised: expected agent ids in [0, {keys.n_agents - 1}], "
            f"got [{int(compromised[0])}, {int(compromised[-1])}]"
        )
    held = set(compromised.tolist())
    seen = {body: tag.tobytes() for body, tag in zip(original_bodies, original_tags, strict=True)}
    forging_key = keys.keys[int(compromised[0])] if compromised.size else None
    out = []
    for sender, body in zip(edited.sender.tolist(), bodies, strict=True):
        if sender in held:
            out.append(_mac(keys.keys[sender], body))
        elif body in seen:
            out.append(seen[body])
        elif forging_key is not None:
            out.append(_mac(forging_key, body))
        else:
            out.append(bytes(TAG_BYTES))
    return _tags(out)


def _canonical_bodies(messages: Messages, round_: int) -> list[bytes]:
    """Per message: little-endian int64 round, sender, receiver, then its tokens."""
    if not isinstance(messages, Messages):
        raise InvalidInputError(f"messages: expected a Messages batch, got {type(messages)}")
    m = len(messages)
    if np.shape(messages.receiver) != (m,) or np.shape(messages.tokens) != (m, MESSAGE_LEN):
        raise InvalidInputError(
            f"messages: expected receiver ({m},) and tokens ({m}, {MESSAGE_LEN}), got "
            f"{np.shape(messages.receiver)} and {np.shape(messages.tokens)}"
        )
    round_ = operator.index(round_)
    if not _INT64_MIN <= round_ <= _INT64_MAX:
        raise InvalidInputError(f"round_: expected a 64-bit integer, got {round_}")
    rows = np.empty((m, 3 + MESSAGE_LEN), dtype="<i8")
    rows[:, 0] = round_
    rows[:, 1] = messages.sender
    rows[:, 2] = messages.receiver
    rows[:, 3:] = messages.tokens
    flat = rows.tobytes()
    size = rows.shape[1] * 8
    return [flat[k * size : (k + 1) * size] for k in range(m)]


def _mac(key: bytes, body: bytes) -> bytes:
    return hmac.digest(key, body, hashlib.sha256)


def _tags(digests: list[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(-1, TAG_BYTES).copy()


def _checked_tags(tags: np.ndarray, m: int, name: str) -> np.ndarray:
    tags = np.asarray(tags)
    if tags.shape != (m, TAG_BYTES) or tags.dtype != np.uint8:
        raise InvalidInputError(
            f"{name}: expected shape ({m}, {TAG_BYTES}) uint8, got {tags.shape} {tags.dtype}"
        )
    return tags
