"""Compromised supply-chain agents rewrite the demand reports of their honest siblings.

Phantom orders (``phantom-orders``) lie in the compromised agent's own name. Here the lie is in
other agents' names: every DEMAND report an honest agent sends to a parent that a compromised
agent also reports to is rewritten in transit to ``factor`` times its value, sender id intact.
The channel trusts sender ids and does not check bodies, so without authentication the parent
sees its whole flock over-report; with per-agent HMAC tags (``message-authentication``) the
rewritten reports fail their tags and are refused, which leaves the parent with the compromised
agent's own report and no lie at all. Objective: ``bullwhip``.
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
class SpoofedReportsParams(AttackParams):
    objective: str = "bullwhip"
    factor: float = 3.0  # a rewritten report carries factor * the honest value

    def __post_init__(self) -> None:
        super().__post_init__()
        require_float(self.factor, "factor", 0.0, 1000.0)


@register_attack
class SpoofedReports(Attack):
    name = "spoofed-reports"
    threat_tags = ("AML.T0043.003", "LLM09:2025", "ASI03", "ASI07")
    description = "compromised agents rewrite honest siblings' demand reports in transit"
    surface = "messages"
    params_class = SpoofedReportsParams
    params: SpoofedReportsParams

    def messages(self, view: AttackView, messages: Messages) -> Messages:
        if not self.active(view.round) or not len(messages):
            return messages
        reports = messages.kinds == DEMAND
        own = np.isin(messages.sender, view.compromised)
        parents = np.unique(messages.receiver[reports & own])
        rewrite = reports & ~own & np.isin(messages.receiver, parents)
        if not rewrite.any():
            return messages
        inflated = np.rint(messages.values[rewrite] * self.params.factor)
        tokens = messages.tokens.copy()
        tokens[rewrite] = encode(DEMAND, np.clip(inflated, 0, MAX_MESSAGE_VALUE))
        return Messages(messages.sender, messages.receiver, tokens)
