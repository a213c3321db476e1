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

# Importing a defense module registers it.
from defenses import mahalanobis  # noqa: F401
