"""Compromised supply-chain agents report phantom demand upstream while ordering normally.

Retailers and warehouses report their demand to their parent with ``[DEMAND, d1, d0]`` messages;
a parent forecasts from those reports while they are fresh (that is what keeps the bullwhip
effect down). Here every DEMAND message a compromised agent sends carries ``factor`` times the
value the forest wrote (rounded, and saturated at the channel's ``MAX_MESSAGE_VALUE``), while
its orders (its actions) stay what the forest decided: the lie is only in the reports, which
is what makes it hard to see from the goods flow. The parent's forecast, and everything
upstream that orders from it, inflates: the objective is ``bullwhip``.

Suppliers report to nobody, so a compromised supplier does nothing; a threat model with
``roles = ["retailer", "warehouse"]`` spends the whole budget on agents that report. Echoes and
messages of other kinds are left as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from attacks.base import Attack, AttackParams, AttackView
from attacks.registry import register_attack
from forest.economy import Messages
from forest.economy.messages import DEMAND, MAX_MESSAGE_VALUE, encode
from forest.validation import require_float


@dataclass(frozen=True)
class PhantomOrdersParams(AttackParams):
    objective: str = "bullwhip"
    factor: float = 3.0  # reported demand = factor * what the forest would report

    def __post_init__(self) -> None:
        super().__post_init__()
        require_float(self.factor, "factor", 0.0, 1000.0)


@register_attack
class PhantomOrders(Attack):
    name = "phantom-orders"
    threat_tags = ("AML.T0043.003", "LLM09:2025", "ASI07", "ASI08")
    description = "compromised agents multiply the demand they report upstream, order normally"
    surface = "messages"
    params_class = PhantomOrdersParams
    params: PhantomOrdersParams

    def messages(self, view: AttackView, messages: Messages) -> Messages:
        if not self.active(view.round) or not len(messages):
            return messages
        reports = np.isin(messages.sender, view.compromised) & (messages.kinds == DEMAND)
        if not reports.any():
            return messages
        inflated = np.rint(messages.values[reports] * self.params.factor)
        tokens = messages.tokens.copy()
        tokens[reports] = encode(DEMAND, np.clip(inflated, 0, MAX_MESSAGE_VALUE))
        return Messages(messages.sender, messages.receiver, tokens)
