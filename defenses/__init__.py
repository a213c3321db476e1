"""Defenses of the forest: anomaly detectors, mitigations, robust aggregation, channel
security and escalation."""

import forest  # noqa: F401  (first: it pins the CPU kernels, forest/numerics.py)

# isort: split

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
from forest.plugins import import_all, load_plugins

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

# And so does importing a third-party package's entry point (forest.plugins).
load_plugins("forest_redteam.defenses")
