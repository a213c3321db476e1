"""Defenses of the forest: anomaly detectors, mitigations, robust aggregation, channel
security and escalation."""

from defenses.base import (
    Channel,
    Defense,
    DefenseParams,
    Detector,
    DetectorParams,
    RoundSignals,
    round_signals,
)
from defenses.registry import defense_class, defense_names, make_defense, register_defense
from forest.plugins import import_all

__all__ = [
    "Channel",
    "Defense",
    "DefenseParams",
    "Detector",
    "DetectorParams",
    "RoundSignals",
    "defense_class",
    "defense_names",
    "make_defense",
    "register_defense",
    "round_signals",
]


# Defining a class in a module of this package registers it.
import_all(__name__, __path__)
