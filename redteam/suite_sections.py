"""The sections of a suite file, each a validated dataclass: ``[suite]`` (``SuiteSettings``),
``[[economies]]``, ``[[attacks]]``, ``[[defenses]]`` and ``[metrics]``; and their resolved
forms (``ValidatedSuite``), which ``redteam.suite`` checks against one another and
``redteam.suite_expansion`` expands into cells."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from forest.validation import require, require_float, require_int

if TYPE_CHECKING:
    from attacks import Attack
    from forest.economy import Economy

NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


@dataclass(frozen=True)
class SuiteSettings:
    name: str  # names the report folder and the MLflow experiment (redteam-NAME)
    checkpoint: str  # the forest under test: a checkpoint folder
    rounds: int = 30  # rounds per episode
    seeds: int | tuple[int, ...] = 2  # a count (seeds 0..n-1) or the seeds themselves
    router: bool = True  # run the forest with its router, as deployed
    description: str = ""  # free text, shown in the report

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
    name: str  # a registered economy (`redteam list economies`)
    label: str = ""  # the scorecard's name for it (default: the economy's name)
    agents: int = 300  # agents in the economy
    config: dict[str, Any] = field(default_factory=dict)  # the economy's config fields


@dataclass(frozen=True)
class AttackEntry:
    name: str  # a registered attack (`redteam list attacks`)
    label: str = ""  # the scorecard's name for it (default: the attack's name)
    params: dict[str, Any] = field(default_factory=dict)  # the attack's parameters (below)
    threat: dict[str, Any] = field(default_factory=dict)  # its threat model (below)
    sweep: dict[str, Any] = field(default_factory=dict)  # one parameter -> list of values
    # Labels of the defenses this attack meets; empty: all of them. A matrix need not cross a
    # message attack with every latent defense.
    defenses: tuple[str, ...] = ()
    # Also play each variant's placebo (attacks.placebo: the attack's own budget spent at
    # random), labelled "LABEL placebo", so that spread reads as excess over it.
    placebo: bool = False


@dataclass(frozen=True)
class DefenseEntry:
    name: str  # a registered defense (`redteam list defenses`), or "none"
    label: str = ""  # the scorecard's name for it (default: the defense's name)
    params: dict[str, Any] = field(default_factory=dict)  # the defense's parameters (below)


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
    confidence: float = 0.95  # t interval across seeds (redteam.intervals)
    # The certified share counts decisions no this many compromised agents per tree can change
    # (under a robust pooling that has a certificate: ``defenses.certification``).
    certified_k: int = 1

    def __post_init__(self) -> None:
        require_float(self.infection_threshold, "infection_threshold", 0.0, 1e6)
        require(len(self.blast_radius_rounds) > 0, "blast_radius_rounds",
                "at least one round", list(self.blast_radius_rounds))  # fmt: skip
        for r in self.blast_radius_rounds:
            require_int(r, "blast_radius_rounds", 1)
        require_int(self.calibration_seed_offset, "calibration_seed_offset", 1)
        require_float(self.confidence, "confidence", 0.5, 0.999)
        require_int(self.certified_k, "certified_k", 0)


@dataclass(frozen=True)
class SuiteSections:
    """A suite file's sections, each checked on its own: keys, types and ranges."""

    settings: SuiteSettings
    economies: tuple[EconomyEntry, ...]
    attacks: tuple[AttackEntry, ...]
    defenses: tuple[DefenseEntry, ...]
    metrics: MetricSettings


@dataclass(frozen=True)
class ResolvedEconomy:
    """An ``[[economies]]`` entry with every field of its config filled in, so that two ways of
    writing one economy make one cell."""

    entry: EconomyEntry
    config: dict[str, Any]
    economy: Economy  # built once, at seed 0, to check the attacks against before anything runs

    @property
    def label(self) -> str:
        return self.entry.label or self.entry.name


@dataclass(frozen=True)
class AttackVariant:
    """One attack of the grid: an ``[[attacks]]`` entry with one swept value applied (or none),
    its params and threat model resolved, and the attack built from them."""

    entry: AttackEntry
    where: str  # the entry's path in errors: "attacks[i]"
    label: str
    params: dict[str, Any]
    threat: dict[str, Any]
    sweep: tuple[str, float] | None  # the swept parameter and its value in this variant
    attack: Attack
    placebo: bool = False  # plays the attack's placebo (attacks.placebo) instead

    def meets(self, defense_label: str) -> bool:
        """Whether the entry crosses this defense (an entry that names none meets them all)."""
        return not self.entry.defenses or defense_label in self.entry.defenses


@dataclass(frozen=True)
class ResolvedDefense:
    """One defense of the grid with its params resolved; ``name`` None is the undefended row."""

    name: str | None
    label: str
    params: dict[str, Any]
    files_digest: str  # of what the defense loads (a checkpoint); "" when nothing or unchecked


@dataclass(frozen=True)
class ValidatedSuite:
    """A suite whose entries are checked against one another (every attack variant on every
    economy, the checkpoint): what the grid of cells is made of, and all it is made of."""

    sections: SuiteSections
    economies: tuple[ResolvedEconomy, ...]
    variants: tuple[AttackVariant, ...]
    defenses: tuple[ResolvedDefense, ...]
    checkpoint_digest: str  # "" when the checkpoint was not checked
