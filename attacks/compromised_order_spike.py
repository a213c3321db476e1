"""Compromised agents take adversarial actions: they multiply what the forest decided for them.

In the supply chain that is an order spike (a retailer or warehouse orders ``factor`` times
what it needs, every ``period`` rounds), in pricing a price jump, in the exchange a bid or ask
jump: the same lever, the top of each economy's action range. The objective is to drag honest
agents' actions up with it (the bullwhip effect, a price war turned upside down).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from attacks.base import Attack, AttackParams, AttackView
from attacks.registry import register_attack
from forest.validation import require_float, require_int


def spike(view: AttackView, actions: np.ndarray, factor: float) -> np.ndarray:
    """The compromised agents' actions times ``factor`` (from at least one action unit, so an
    agent that would order nothing still spikes), within the action range."""
    ids = view.compromised
    unit = view.economy.action_unit()[ids]
    spiked = np.rint(np.maximum(actions[ids], unit) * factor)
    out = actions.copy()
    out[ids] = np.clip(spiked, 0, view.economy.n_actions - 1).astype(actions.dtype)
    return out


@dataclass(frozen=True)
class OrderSpikeParams(AttackParams):
    objective: str = "raise-actions"
    factor: float = 4.0  # compromised action = factor * the forest's action (at least one unit)
    period: int = 1  # spike every ``period`` rounds

    def __post_init__(self) -> None:
        super().__post_init__()
        require_float(self.factor, "factor", 0.0, 1000.0)
        require_int(self.period, "period", 1)


@register_attack
class CompromisedOrderSpike(Attack):
    name = "compromised-order-spike"
    threat_tags = ("AML.T0048.000", "ASI10", "ASI08")
    description = "compromised agents multiply their actions (order, price or bid spikes)"
    surface = "actions"
    params_class = OrderSpikeParams
    params: OrderSpikeParams

    def actions(self, view: AttackView, actions: np.ndarray) -> np.ndarray:
        if (
            not self.active(view.round)
            or (view.round - self.params.start_round) % self.params.period
        ):
            return actions
        return spike(view, actions, self.params.factor)
