"""Suites: TOML files that say which attacks and defenses to run against which economies.

A suite expands into a grid of cells, economy x attack variant x defense x seed. Everything is
validated before anything runs: an unknown key, name, wrong type or impossible value raises a
``SuiteError`` whose one line names the file, the field and what is allowed. Nothing in a suite
is ever executed: names are looked up in the registries, values are plain TOML data.

``validate_suite`` checks and resolves every entry once (configs filled in, attack variants
built and checked on every economy by ``redteam.suite_attacks``, defenses built);
``redteam.suite_expansion`` turns what it returns into the grid of cells.

A minimal suite::

    [suite]
    name = "quickstart"
    checkpoint = "checkpoints/small"   # relative to the current folder
    rounds = 30
    seeds = 2                          # seeds 0 and 1; or a list, seeds = [3, 7]

    [[economies]]
    name = "supply_chain"
    agents = 300

    [[attacks]]
    name = "latent-noise"
    threat = { fraction = 0.05 }
    sweep = { norm = [1.0, 4.0, 16.0] }   # one variant per value

    [[defenses]]
    name = "none"          # the undefended row, next to the defended ones
    [[defenses]]
    name = "mahalanobis"
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from defenses import defense_class, defense_names
from forest.checkpoints import checkpoint_digest, load_policy
from forest.economy import economy_class, economy_names
from forest.economy.config import MAX_AGENTS, EconomyConfig
from forest.errors import ConfigError, ForestError, InvalidInputError
from forest.params import from_dict, to_dict
from forest.validation import require, require_int
from redteam.cell import Cell
from redteam.episodes import build_economy
from redteam.planning import PLANNING_SEEDS
from redteam.suite_attacks import resolve_attacks
from redteam.suite_expansion import expand_cells
from redteam.suite_sections import (
    AttackEntry,
    DefenseEntry,
    EconomyEntry,
    MetricSettings,
    ResolvedDefense,
    ResolvedEconomy,
    SuiteSections,
    SuiteSettings,
    ValidatedSuite,
)

SECTIONS = ("suite", "economies", "attacks", "defenses", "metrics")
NO_DEFENSE = "none"
CHECKPOINT_FILES = ("config.json", "model.safetensors")
# A token forest keeps its tokenizer beside it; a pretrained forest names its language model.
READER_FILES = ("tokenizer.json", "language_model.json")

# How many larger sizes an economy's config is tried at, to tell a size that does not fit it
# (a market of up to this many agents) from a config field that is wrong at any size.
SIZES_TRIED = 128

Entry = TypeVar("Entry")


class SuiteError(InvalidInputError):
    """A suite file that cannot run; the message is one line naming file and field."""


@dataclass(frozen=True)
class Suite:
    path: Path
    settings: SuiteSettings
    economies: tuple[EconomyEntry, ...]
    attacks: tuple[AttackEntry, ...]
    defenses: tuple[DefenseEntry, ...]
    metrics: MetricSettings
    cells: tuple[Cell, ...]

    @property
    def hash(self) -> str:
        return hashlib.sha256("".join(c.hash for c in self.cells).encode()).hexdigest()[:16]


def _entries(data: dict[str, Any], key: str, cls: type[Entry]) -> tuple[Entry, ...]:
    """The ``[[key]]`` tables of a suite, each read into ``cls``."""
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(f"{key}: expected a list of tables ([[{key}]]), got {value!r}")
    return tuple(from_dict(cls, v, f"{key}[{i}]") for i, v in enumerate(value))


def _read_sections(data: dict[str, Any]) -> SuiteSections:
    """Each section on its own (keys, types, ranges), before any is checked against another;
    the blast radius only needs the rounds, so it is checked here too."""
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"unknown section {unknown[0]!r}; allowed: {', '.join(SECTIONS)}")
    if "suite" not in data:
        raise ConfigError("suite: missing [suite] section (name, checkpoint, rounds, seeds)")
    sections = SuiteSections(
        settings=from_dict(SuiteSettings, data["suite"], "suite"),
        economies=_entries(data, "economies", EconomyEntry),
        attacks=_entries(data, "attacks", AttackEntry),
        defenses=_entries(data, "defenses", DefenseEntry),
        metrics=from_dict(MetricSettings, data.get("metrics", {}), "metrics"),
    )
    if not sections.economies:
        raise ConfigError("economies: a suite needs at least one [[economies]] entry")
    if not sections.attacks:
        raise ConfigError("attacks: a suite needs at least one [[attacks]] entry")
    rounds = sections.settings.rounds
    for r in sections.metrics.blast_radius_rounds:
        require(r <= rounds, "metrics.blast_radius_rounds", f"<= rounds ({rounds})", r)
    return sections


def _distinct_labels(labels: list[str], section: str) -> None:
    """Two entries under one label would be averaged into one scorecard row; and "|" separates
    a row's economy, attack and defense."""
    for i, label in enumerate(labels):
        if "|" in label:
            raise ConfigError(f"{section}[{i}].label: {label!r} contains '|'; choose another")
        if label in labels[:i]:
            raise ConfigError(
                f"{section}[{i}].label: {label!r} already names {section}[{labels.index(label)}]; "
                "give one of them a distinct label"
            )


def _resolve_economy(entry: EconomyEntry, where: str) -> ResolvedEconomy:
    """The entry's config with every field filled in, and the economy built from it."""
    if entry.name not in economy_names():
        raise ConfigError(
            f"{where}.name: unknown economy {entry.name!r}; allowed: {', '.join(economy_names())}"
        )
    config_class = economy_class(entry.name).config_class
    if "n_agents" in entry.config:
        raise ConfigError(f"{where}.config.n_agents: set the size as {where}.agents")
    allowed = [f for f in config_class.field_names() if f != "n_agents"]
    unknown = sorted(set(entry.config) - set(allowed))
    if unknown:
        raise ConfigError(
            f"{where}.config: unknown key {unknown[0]!r}; allowed: {', '.join(allowed)}"
        )
    # The config checks these bounds too, but under its own name for the size, n_agents.
    require_int(entry.agents, f"{where}.agents", config_class.min_agents, MAX_AGENTS)
    try:
        config = _economy_config(config_class, entry.config, entry.agents)
    except ConfigError as exc:
        raise _config_or_size_error(entry, config_class, where, exc) from None
    resolved = to_dict(config)
    return ResolvedEconomy(entry, resolved, build_economy(entry.name, resolved, 0))


def _economy_config(
    config_class: type[EconomyConfig], config: dict[str, Any], agents: int
) -> EconomyConfig:
    """The config at ``agents`` agents, its other fields from ``config`` or their defaults."""
    return config_class().replace(**config, n_agents=agents)


def _config_or_size_error(
    entry: EconomyEntry, config_class: type[EconomyConfig], where: str, error: ConfigError
) -> ConfigError:
    """The config refused the entry's size or its own fields: point at the one to change.

    A config's error names the field in its text only; rather than read the text, ask the
    config again at the next few sizes. If one of them is accepted, the size is what to
    change (a multiple of a market's size, at least as many agents as a market), and the
    error says which size would do; otherwise it is the config's own fields.
    """
    sizes = range(entry.agents + 1, min(entry.agents + SIZES_TRIED, MAX_AGENTS) + 1)
    fits = next((n for n in sizes if _accepts(config_class, entry.config, n)), None)
    if fits is None:
        return ConfigError(f"{where}.config.{error}")
    return ConfigError(
        f"{where}.agents: {entry.agents} agents do not fit {entry.name} ({error}); {fits} would"
    )


def _accepts(config_class: type[EconomyConfig], config: dict[str, Any], agents: int) -> bool:
    """Whether the config stands at ``agents`` agents."""
    try:
        _economy_config(config_class, config, agents)
    except ConfigError:
        return False
    return True


def _resolve_defense(entry: DefenseEntry, where: str, check_checkpoint: bool) -> ResolvedDefense:
    """The defense built from its params; what it loads is read only where the checkpoint is
    checked (a dry parse reads no files)."""
    if entry.name == NO_DEFENSE:  # the undefended row of a matrix, next to the defended ones
        if entry.params:
            raise ConfigError(f"{where}.params: {NO_DEFENSE!r} takes no parameters")
        return ResolvedDefense(None, entry.label or "no defense", {}, "")
    if entry.name not in defense_names():
        raise ConfigError(
            f"{where}.name: unknown defense {entry.name!r}; "
            f"allowed: {NO_DEFENSE}, {', '.join(defense_names())}"
        )
    defense = defense_class(entry.name).from_config(entry.params, where)
    digest = defense.files_digest() if check_checkpoint else ""
    return ResolvedDefense(entry.name, entry.label or entry.name, to_dict(defense.params), digest)


def _resolve_defenses(
    sections: SuiteSections, check_checkpoint: bool
) -> tuple[ResolvedDefense, ...]:
    """The defense axis, which an attack may narrow to the labels it names; a suite without
    defenses has the undefended row alone."""
    defenses = tuple(
        _resolve_defense(entry, f"defenses[{i}]", check_checkpoint)
        for i, entry in enumerate(sections.defenses)
    ) or (ResolvedDefense(None, "no defense", {}, ""),)
    labels = [d.label for d in defenses]
    for i, attack in enumerate(sections.attacks):
        unknown = [label for label in attack.defenses if label not in labels]
        if unknown:
            raise ConfigError(
                f"attacks[{i}].defenses: no defense labelled {unknown[0]!r}; "
                f"the suite's defenses are {', '.join(labels)}"
            )
    return defenses


def _checkpoint_digest(settings: SuiteSettings) -> str:
    """The digest of a forest that is there and loads: a suite must stop before anything is
    written, not when its first cell asks for the forest."""
    checkpoint = Path(settings.checkpoint)
    missing = [f for f in CHECKPOINT_FILES if not (checkpoint / f).is_file()]
    if not any((checkpoint / f).is_file() for f in READER_FILES):
        missing.append(READER_FILES[0])
    if missing:
        raise ConfigError(
            f"suite.checkpoint: no trained forest at {str(checkpoint)!r} "
            f"(missing {', '.join(missing)}); train one with `forest train --out DIR`"
        )
    digest = checkpoint_digest(checkpoint)
    try:
        load_policy(checkpoint)
    except ForestError as exc:
        raise ConfigError(f"suite.checkpoint: {exc}") from None
    return digest


def _check_seeds_below_planning(sections: SuiteSections) -> None:
    """A suite's episodes (its seeds, and the detectors' clean seeds after them) stay below
    the seeds episode-level attacks plan on, so that no plan sees what it is scored on."""
    offset = sections.metrics.calibration_seed_offset
    last = max(sections.settings.seed_list) + 2 * offset
    if last >= PLANNING_SEEDS:
        raise ConfigError(
            f"seeds: seed + 2 x calibration_seed_offset must stay below {PLANNING_SEEDS} (the "
            f"attackers' planning episodes); got {last}"
        )


def validate_suite(data: dict[str, Any], check_checkpoint: bool = True) -> ValidatedSuite:
    """Every check a suite gets, each entry checked and resolved once; what it returns is all
    the expansion into cells needs. ``check_checkpoint`` False skips reading any files."""
    sections = _read_sections(data)
    _check_seeds_below_planning(sections)
    _distinct_labels([e.label or e.name for e in sections.economies], "economies")
    _distinct_labels([d.label or d.name for d in sections.defenses], "defenses")
    economies = tuple(
        _resolve_economy(entry, f"economies[{i}]") for i, entry in enumerate(sections.economies)
    )
    variants = resolve_attacks(sections, economies)
    defenses = _resolve_defenses(sections, check_checkpoint)
    digest = _checkpoint_digest(sections.settings) if check_checkpoint else ""
    return ValidatedSuite(sections, economies, variants, defenses, digest)


def parse_suite(data: dict[str, Any], path: Path, check_checkpoint: bool = True) -> Suite:
    """A validated suite from parsed TOML; ``path`` names the file in errors."""
    validated = validate_suite(data, check_checkpoint)
    s = validated.sections
    cells = expand_cells(validated)
    return Suite(path, s.settings, s.economies, s.attacks, s.defenses, s.metrics, cells)


def load_suite(path: str | Path, check_checkpoint: bool = True) -> Suite:
    """Read and validate a suite file; every problem is a one-line ``SuiteError``."""
    path = Path(path)
    if not path.is_file():
        raise SuiteError(f"{path}: no such suite file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise SuiteError(f"{path}: not a UTF-8 text file") from None
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError(f"{path}: not valid TOML: {exc}") from None
    try:
        return parse_suite(data, path, check_checkpoint)
    except ConfigError as exc:
        raise SuiteError(f"{path}: {exc}") from None
