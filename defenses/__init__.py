"""Defenses of the forest: anomaly detectors (and, later, mitigations and escalation)."""

from defenses.base import Detector, DetectorParams, RoundSignals
from defenses.registry import defense_class, defense_names, make_defense, register_defense
from forest.plugins import import_all

__all__ = [
    "Detector",
    "DetectorParams",
    "RoundSignals",
    "defense_class",
    "defense_names",
    "make_defense",
    "register_defense",
]


# Defining a class in a module of this package registers it.
import_all(__name__, __path__)
