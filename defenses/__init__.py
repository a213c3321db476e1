"""Defenses of the forest: anomaly detectors (and, later, mitigations and escalation)."""

from defenses.base import Detector, DetectorParams, RoundSignals
from defenses.registry import defense_class, defense_names, make_defense, register_defense

__all__ = [
    "Detector",
    "DetectorParams",
    "RoundSignals",
    "defense_class",
    "defense_names",
    "make_defense",
    "register_defense",
]


def _register_all() -> None:
    """Import every module of the package: defining a defense class registers it, so adding
    a defense is adding one file."""
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


_register_all()
