"""Attacks on the forest: threat models and the attacks that act through its intervention points."""

from attacks.base import Attack, AttackParams, AttackView, RoundOutcome, ThreatModel
from attacks.registry import attack_class, attack_names, make_attack, register_attack

__all__ = [
    "Attack",
    "AttackParams",
    "AttackView",
    "RoundOutcome",
    "ThreatModel",
    "attack_class",
    "attack_names",
    "make_attack",
    "register_attack",
]

# Importing an attack module registers it.
from attacks import compromised_order_spike, latent_noise  # noqa: F401
