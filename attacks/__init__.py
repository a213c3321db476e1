"""Attacks on the forest: threat models and the attacks that act through its intervention points."""

from attacks.base import Attack, AttackParams, AttackView, ThreatModel
from attacks.objectives import OBJECTIVES, Objective, RoundOutcome
from attacks.registry import attack_class, attack_names, make_attack, register_attack

__all__ = [
    "OBJECTIVES",
    "Attack",
    "AttackParams",
    "AttackView",
    "Objective",
    "RoundOutcome",
    "ThreatModel",
    "attack_class",
    "attack_names",
    "make_attack",
    "register_attack",
]


def _register_all() -> None:
    """Import every module of the package: defining an attack class registers it, so adding
    an attack is adding one file."""
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


_register_all()
