"""Compromised agents flood their recipients with extra messages that take the first slots.

The forest reads only the first ``MESSAGE_SLOTS`` messages each receiver got, in delivery order
(``forest.tokenizer``). Every round each compromised agent sends ``copies`` extra messages to
each of its recipients (``economy.message_recipients()``: the neighbours its own message goes
to), of the kind its role normally sends (DEMAND in the supply chain, PRICE for firms, BID for
buyers and ASK for sellers; or ``kind``) carrying ``value`` (default the channel's maximum). They
are put in front of the round's honest traffic, before the router, so that whatever the router
lets through lands in the receivers' first slots and pushes the honest messages out of view.

Budget, per compromised agent and round: ``copies x recipients x MESSAGE_LEN`` message tokens
(3 per message), capped by ``max_tokens`` when it is set. Under a cap the flood is spread over
the recipients: first one copy to each recipient, then a second to each, and so on, until the
next whole message would exceed the cap. The honest messages the forest sends for a
compromised agent are left in place and are not counted: they are what it would send anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from attacks.base import Attack, AttackParams, AttackView
from attacks.registry import register_attack
from forest.economy import ROLES, Economy, Messages
from forest.economy.messages import (
    ASK,
    BID,
    DEMAND,
    ECHO,
    MAX_MESSAGE_VALUE,
    MESSAGE_LEN,
    PRICE,
    encode,
)
from forest.validation import require, require_int

# The kind of message each role sends in its economy (its flood imitates it).
ROLE_KIND = {
    "supplier": DEMAND,
    "warehouse": DEMAND,
    "retailer": DEMAND,
    "firm": PRICE,
    "buyer": BID,
    "seller": ASK,
}
KINDS = {"demand": DEMAND, "price": PRICE, "bid": BID, "ask": ASK, "echo": ECHO}
ROLE = "role"  # ``kind`` value meaning: the kind the sender's role normally sends


@dataclass(frozen=True)
class MessageFloodingParams(AttackParams):
    copies: int = 3  # extra messages to each recipient per round
    value: int = MAX_MESSAGE_VALUE  # the value every flood message carries
    kind: str = ROLE  # "role" (the sender role's own kind) or demand, price, bid, ask, echo
    max_tokens: int | None = None  # cap on flood tokens per compromised agent per round

    def __post_init__(self) -> None:
        super().__post_init__()
        require_int(self.copies, "copies", 1, 1000)
        require_int(self.value, "value", 0, MAX_MESSAGE_VALUE)
        allowed = (ROLE, *KINDS)
        require(self.kind in allowed, "kind", f"one of {', '.join(allowed)}", self.kind)
        if self.max_tokens is not None:
            require_int(self.max_tokens, "max_tokens", 0)


def flood_budget(copies: int, recipients: np.ndarray, max_tokens: int | None) -> np.ndarray:
    """Flood messages per sender given its recipient count: ``copies x recipients``, cut to
    the whole messages that fit in ``max_tokens``."""
    wanted = copies * np.asarray(recipients, dtype=np.int64)
    if max_tokens is None:
        return wanted
    return np.minimum(wanted, max_tokens // MESSAGE_LEN)


@register_attack
class MessageFlooding(Attack):
    name = "message-flooding"
    threat_tags = ("AML.T0046", "AML.T0029", "LLM10:2025", "ASI07")
    description = "compromised agents send extra max-value messages that fill receivers' slots"
    surface = "messages"
    params_class = MessageFloodingParams
    params: MessageFloodingParams

    def flood(self, economy: Economy, compromised: np.ndarray) -> Messages:
        """This round's extra messages, copy-major (one copy to every recipient, then the next)."""
        p = self.params
        sender, receiver = economy.message_recipients()
        mine = np.flatnonzero(np.isin(sender, compromised))
        order = mine[np.argsort(sender[mine], kind="stable")]
        sender, receiver = sender[order], receiver[order]
        if sender.size == 0:
            return Messages.empty()
        # Each pair's position among its sender's recipients, and each sender's recipient count.
        first = np.searchsorted(sender, sender, side="left")
        position = np.arange(sender.size) - first
        counts = np.bincount(sender, minlength=economy.n_agents)[sender]
        allowed = flood_budget(p.copies, counts, p.max_tokens)
        copy = np.repeat(np.arange(p.copies), sender.size)
        rank = copy * np.tile(counts, p.copies) + np.tile(position, p.copies)
        keep = rank < np.tile(allowed, p.copies)
        flood_sender = np.tile(sender, p.copies)[keep]
        flood_receiver = np.tile(receiver, p.copies)[keep]
        if p.kind == ROLE:
            role_kind = np.array([ROLE_KIND[r] for r in ROLES], dtype=np.int64)
            kinds = role_kind[economy.role[flood_sender]]
        else:
            kinds = np.full(flood_sender.size, KINDS[p.kind], dtype=np.int64)
        values = np.full(flood_sender.size, p.value)
        return Messages(flood_sender, flood_receiver, encode(kinds, values))

    def messages(self, view: AttackView, messages: Messages) -> Messages:
        if not self.active(view.round):
            return messages
        return Messages.concat(self.flood(view.economy, view.compromised), messages)
