"""Rate limits: a sender that puts more than ``max_messages`` on the channel in one round has
that round's messages dropped.

Every honest agent talks to a fixed set of recipients (its market or its supply links) and
echoes what it received, so its count per round is small and does not grow with the economy:
at most 9 messages with the shipped forest (supply chain 9, exchange 6, pricing 2; 300 agents,
15 rounds, no router). A flood exceeds any such limit. The whole round is dropped rather than
the excess, because a flooder chooses its message order and would keep its first slots.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from defenses.base import Channel, Defense
from defenses.registry import register_defense
from forest.economy import Messages
from forest.validation import require_int


@dataclass(frozen=True)
class RateLimitParams:
    max_messages: int = 12  # per sender and round

    def __post_init__(self) -> None:
        require_int(self.max_messages, "max_messages", 1, 1_000_000)


@register_defense
class RateLimit(Defense):
    name = "rate-limit"
    description = "drop a round's messages of any sender over max_messages per round"
    kind = "channel"
    params_class = RateLimitParams
    params: RateLimitParams

    def filter_messages(self, channel: Channel) -> Messages:
        edited = channel.edited
        sent = np.bincount(edited.sender, minlength=channel.n_agents)
        return edited.select(sent[edited.sender] <= self.params.max_messages)
