"""The null attack: it compromises agents and does nothing with them.

Every metric's null check (issue #21): an attack that does nothing must read zero spread, zero
success and zero harm under every defense. Any figure it moves is the harness's or the
defense's own doing, never the attack's.
"""

from __future__ import annotations

from attacks.base import Attack
from attacks.registry import register_attack


@register_attack
class NullAttack(Attack):
    name = "null"
    description = "compromises agents and leaves every intervention point alone (a null check)"
    surface = "none"
