"""Attacks on the forest: threat models and the attacks that act through its intervention points."""

import forest  # noqa: F401  (first: it pins the CPU kernels, forest/numerics.py)

# isort: split

from attacks.base import (
    Attack,
    AttackParams,
    AttackView,
    DefenseView,
    DetectorView,
    EpisodeOracle,
    Plan,
    ThreatModel,
)
from attacks.objectives import OBJECTIVES, Objective, RoundOutcome
from attacks.registry import attack_class, attack_names, make_attack, register_attack
from forest.plugins import import_all, load_plugins

__all__ = [
    "OBJECTIVES",
    "Attack",
    "AttackParams",
    "AttackView",
    "DefenseView",
    "DetectorView",
    "EpisodeOracle",
    "Objective",
    "Plan",
    "RoundOutcome",
    "ThreatModel",
    "attack_class",
    "attack_names",
    "make_attack",
    "register_attack",
]


# Defining a class in a module of this package registers it.
import_all(__name__, __path__)

# And so does importing a third-party package's entry point (forest.plugins).
load_plugins("forest_redteam.attacks")
