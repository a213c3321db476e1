"""The sections of a suite file, each a validated dataclass: ``[suite]`` (``SuiteSettings``),
``[[economies]]``, ``[[attacks]]``, ``[[defenses]]`` and ``[metrics]``. ``redteam.suite``
reads a file into them and expands them into cells."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from forest.validation import require, require_float, require_int

NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


@dataclass(frozen=True)
class SuiteSettings:
    name: str
    checkpoint: str
    rounds: int = 30
    seeds: int | tuple[int, ...] = 2
    router: bool = True  # run the forest with its router, as deployed
    description: str = ""

    def __post_init__(self) -> None:
        require(
            bool(self.name) and set(self.name) <= NAME_CHARACTERS and self.name[0] != ".",
            "name",
            "a name of letters, digits, '_', '-' and '.' (it names the report folder)",
            self.name,
        )
        require_int(self.rounds, "rounds", 2, 10_000)
        if isinstance(self.seeds, int):
            require_int(self.seeds, "seeds", 1, 10_000)
        else:
            require(len(self.seeds) > 0, "seeds", "at least one seed", list(self.seeds))
            require(len(set(self.seeds)) == len(self.seeds), "seeds", "distinct seeds", self.seeds)
            for seed in self.seeds:
                require_int(seed, "seeds", 0, 2**31 - 1)

    @property
    def seed_list(self) -> tuple[int, ...]:
        return tuple(range(self.seeds)) if isinstance(self.seeds, int) else self.seeds


@dataclass(frozen=True)
class EconomyEntry:
    name: str
    label: str = ""  # the scorecard's name for it (default: the economy's name)
    agents: int = 300
    config: dict[str, Any] = field(default_factory=dict)  # the economy's config fields


@dataclass(frozen=True)
class AttackEntry:
    name: str
    label: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    threat: dict[str, Any] = field(default_factory=dict)
    sweep: dict[str, Any] = field(default_factory=dict)  # one parameter -> list of values
    # Labels of the defenses this attack meets; empty: all of them. A matrix need not cross a
    # message attack with every latent defense.
    defenses: tuple[str, ...] = ()


@dataclass(frozen=True)
class DefenseEntry:
    name: str
    label: str = ""
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricSettings:
    """How cells are measured; see ``redteam.propagation`` for the infection rule."""

    # An honest agent is infected in a round when its action departs from its clean twin's by
    # more than this many action classes (0.5: any change of class).
    infection_threshold: float = 0.5
    blast_radius_rounds: tuple[int, ...] = (5, 10)  # rounds after the attack starts
    # Detectors are fitted on a clean episode of seed + offset and calibrated on one of
    # seed + 2 * offset, never on the cell's own seed.
    calibration_seed_offset: int = 100_000
    price_per_gflop: float = 1e-6  # dollars, for cost per 1M agent interactions
    confidence: float = 0.95  # bootstrap interval across seeds
    bootstrap_resamples: int = 2000

    def __post_init__(self) -> None:
        require_float(self.infection_threshold, "infection_threshold", 0.0, 1e6)
        require(len(self.blast_radius_rounds) > 0, "blast_radius_rounds",
                "at least one round", list(self.blast_radius_rounds))  # fmt: skip
        for r in self.blast_radius_rounds:
            require_int(r, "blast_radius_rounds", 1)
        require_int(self.calibration_seed_offset, "calibration_seed_offset", 1)
        require_float(self.price_per_gflop, "price_per_gflop", 0.0)
        require_float(self.confidence, "confidence", 0.5, 0.999)
        require_int(self.bootstrap_resamples, "bootstrap_resamples", 100, 1_000_000)
