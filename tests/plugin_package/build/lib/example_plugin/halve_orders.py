"""Compromised agents order half of what the forest chose (an example plugin attack)."""

import numpy as np

from attacks import Attack, AttackView, register_attack


@register_attack
class HalveOrders(Attack):
    name = "halve-orders"
    description = "compromised agents order half of what the forest chose"
    surface = "actions"
    threat_tags = ("AML.T0048.000", "ASI10")

    def actions(self, view: AttackView, actions: np.ndarray) -> np.ndarray:
        if not self.active(view.round):
            return actions
        out = actions.copy()
        out[view.compromised] //= 2
        return out
