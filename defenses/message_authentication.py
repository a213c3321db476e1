"""Message authentication: every message carries an HMAC under its sender's key, and the
channel delivers only those whose tag checks out.

Honest agents sign what they send (`forest/economy/authentication.py`); an attack that rewrites
the round's messages can attach genuine tags only for the agents it holds the keys of, replay
tags it saw, or forge. So forged senders and tampered bodies are refused, while a compromised
agent's lies under its own name pass: this defense is for message attacks that speak for
others, and the matrix shows which those are.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from defenses.base import Channel, Defense
from defenses.registry import register_defense
from forest.economy import Messages
from forest.economy.authentication import ChannelKeys, sign, tags_after_edit, verify
from forest.validation import require_int


@dataclass(frozen=True)
class MessageAuthenticationParams:
    key_seed: int = 0  # keys derive from it, so a rerun signs with the same keys

    def __post_init__(self) -> None:
        require_int(self.key_seed, "key_seed", 0)


@register_defense
class MessageAuthentication(Defense):
    name = "message-authentication"
    description = "per-agent HMAC keys: forged senders and tampered messages are refused"
    kind = "channel"
    params_class = MessageAuthenticationParams
    params: MessageAuthenticationParams

    def __init__(self, params: MessageAuthenticationParams) -> None:
        super().__init__(params)
        self._keys: dict[int, ChannelKeys] = {}

    def keys(self, n_agents: int) -> ChannelKeys:
        if n_agents not in self._keys:
            master = hashlib.sha256(f"forest-redteam/{self.params.key_seed}".encode()).digest()
            self._keys[n_agents] = ChannelKeys.derive(master, n_agents)
        return self._keys[n_agents]

    def filter_messages(self, channel: Channel) -> Messages:
        keys = self.keys(channel.n_agents)
        tags = sign(keys, channel.sent, channel.round)
        arrived = tags_after_edit(
            keys, channel.sent, tags, channel.edited, channel.compromised, channel.round
        )
        return channel.edited.select(verify(keys, channel.edited, arrived, channel.round))
