"""How far the compromised agents' messages get: sent, delivered by the router, read.

A message attack, or a text attack that rewrites what a compromised sender's message says, acts
through the messages that reach a receiver. Two filters stand in the way: the router, which
keeps a share of the messages, and the forest's message slots, which hold a receiver's first
``MESSAGE_SLOTS`` messages and no others (both forests read the same slots). ``MessageReach``
counts, each round and per sender, the messages at three stages:

- **sent:** what reached the router, after the attack's edits and the defense's filter;
- **delivered:** what the router kept, which the economy delivers next round;
- **read:** the messages in this round's receivers' slots, which were delivered last round.
  These are what a text attack rewrites: its words reach the forest through them alone (the
  pretrained forest's prompt may cut long words short). The economy itself reads every
  delivered message into what the agents observe (e.g. the supply chain's demand forecast), so
  a delivered message outside the slots still moves its receiver through that channel.

Over the rounds from an attack's start, "read" therefore counts the messages delivered from the
round before the start to the one before the last: those the attacked rounds read.

Counts are by sender. A message the attack forged in an honest sender's name counts as that
sender's, and so does an honest agent's echo of a compromised one's message.

A cell counts the attacked episode and its compared twin alike, so the compromised agents'
delivered share under attack is set against the same agents' share with no attack. Under an
escalating defense an escalated round is the larger model's, routed by its own router.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from forest.economy import Economy
from forest.economy.base import RoundResult
from forest.tokenizer import read_messages
from redteam.episodes import Played

STAGES = ("sent", "delivered", "read")
GROUPS = ("compromised", "honest")


@dataclass
class MessageReach:
    """An observer (``redteam.episodes.Observer``): per round, how many messages each of
    ``n_agents`` senders had at each of ``STAGES``."""

    n_agents: int
    counts: list[np.ndarray] = field(default_factory=list)

    def before_step(self, round_: int, economy: Economy, played: Played) -> None:
        # Before the economy steps, its inbox is the one this round's decisions read.
        inbox = economy.inbox
        batches = (
            played.sent.sender,
            played.step.messages.sender,
            inbox.sender[read_messages(inbox)],
        )
        self.counts.append(np.stack([np.bincount(s, minlength=self.n_agents) for s in batches]))

    def after_step(
        self, round_: int, economy: Economy, played: Played, result: RoundResult
    ) -> None:
        pass

    def per_round(self) -> np.ndarray:
        """(R, stage, sender) message counts."""
        if not self.counts:
            return np.zeros((0, len(STAGES), self.n_agents), dtype=np.int64)
        return np.stack(self.counts)


def per_round_by_group(per_round: np.ndarray, compromised: np.ndarray) -> np.ndarray:
    """(R, stage, group) counts from ``per_round`` (R, stage, sender)."""
    mask = np.zeros(per_round.shape[2], dtype=bool)
    mask[compromised] = True
    return np.stack([per_round[:, :, mask].sum(axis=2), per_round[:, :, ~mask].sum(axis=2)], axis=2)


def by_group(per_round: np.ndarray, compromised: np.ndarray) -> np.ndarray:
    """(stage, group) totals over the rounds of ``per_round`` (R, stage, sender)."""
    return per_round_by_group(per_round, compromised).sum(axis=0)


def delivered_share(totals: np.ndarray, group: int) -> float:
    """Of a group's sent messages, the share the router delivered (NaN: it sent none)."""
    sent, delivered = totals[0, group], totals[1, group]
    return float(delivered / sent) if sent else float("nan")


def message_reach_scalars(
    attacked: np.ndarray, twin: np.ndarray | None, compromised: np.ndarray
) -> dict[str, float]:
    """Totals by group over the rounds given (a cell passes those from the attack's start),
    each group's delivered share, and the compromised agents' share in the twin (the same
    agents, no attack; NaN for a twin without counts)."""
    totals = by_group(attacked, compromised)
    scalars = {
        f"messages_{stage}_{group}": float(totals[s, g])
        for s, stage in enumerate(STAGES)
        for g, group in enumerate(GROUPS)
    }
    for g, group in enumerate(GROUPS):
        scalars[f"delivered_share_{group}"] = delivered_share(totals, g)
    scalars["delivered_share_compromised_twin"] = (
        float("nan") if twin is None else delivered_share(by_group(twin, compromised), 0)
    )
    return scalars
