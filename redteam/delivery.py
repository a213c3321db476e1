"""How far the compromised agents' messages get: sent, delivered by the router, read.

A message attack, or a text attack that rewrites what a compromised sender's message says, acts
only through the messages that reach a receiver and that the receiver reads. Two filters stand
in the way. The router keeps a few percent of the messages, and a receiver reads only its first
``MESSAGE_SLOTS``. ``MessageReach`` counts, each round, the messages of compromised and honest
senders at three stages:

- **sent:** what reached the router, after the attack's edits and the defense's filter;
- **delivered:** what the router kept (it is delivered next round);
- **read:** this round's inbox messages that were among their receiver's first ``MESSAGE_SLOTS``.

The honest senders' counts are the comparison. If compromised messages are delivered less often
than honest ones, the router filters them.
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
    """An observer (``redteam.episodes.Observer``): per round, a (stage, group) count of
    messages, for ``STAGES`` and ``GROUPS``."""

    compromised: np.ndarray
    counts: list[np.ndarray] = field(default_factory=list)

    def before_step(self, round_: int, economy: Economy, played: Played) -> None:
        # Before the economy steps, its inbox is the one this round's decisions read.
        inbox = economy.inbox
        read = read_messages(inbox)
        batches = (played.sent.sender, played.step.messages.sender, inbox.sender[read])
        count = np.zeros((len(STAGES), len(GROUPS)), dtype=np.int64)
        for stage, sender in enumerate(batches):
            from_compromised = int(np.isin(sender, self.compromised).sum())
            count[stage] = (from_compromised, len(sender) - from_compromised)
        self.counts.append(count)

    def after_step(
        self, round_: int, economy: Economy, played: Played, result: RoundResult
    ) -> None:
        pass

    def per_round(self) -> np.ndarray:
        """(R, stage, group) message counts."""
        return np.stack(self.counts) if self.counts else np.zeros((0, len(STAGES), len(GROUPS)))


def message_reach_scalars(per_round: np.ndarray) -> dict[str, float]:
    """Totals over the rounds given (a cell passes those from the attack's start), and the share
    of each group's sent messages that the router delivered (NaN: the group sent none)."""
    total = per_round.sum(axis=0) if len(per_round) else np.zeros((len(STAGES), len(GROUPS)))
    scalars = {
        f"messages_{stage}_{group}": float(total[s, g])
        for s, stage in enumerate(STAGES)
        for g, group in enumerate(GROUPS)
    }
    for g, group in enumerate(GROUPS):
        sent, delivered = total[0, g], total[1, g]
        scalars[f"delivered_share_{group}"] = float(delivered / sent) if sent else float("nan")
    return scalars
