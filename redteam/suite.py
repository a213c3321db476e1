"""Suites: TOML files that say which attacks and defenses to run against which economies.

A suite expands into a grid of cells, economy x attack variant x defense x seed. Everything is
validated before anything runs: an unknown key, name, wrong type or impossible value raises a
``SuiteError`` whose one line names the file, the field and what is allowed. Nothing in a suite
is ever executed: names are looked up in the registries, values are plain TOML data.

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

import dataclasses
import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from attacks import OBJECTIVES, ThreatModel, attack_class, attack_names
from defenses import Defense, defense_class, defense_names
from forest.economy import Economy, economy_class, economy_names
from forest.errors import ConfigError, ForestError, InvalidInputError
from forest.params import from_dict, to_dict
from forest.training.checkpoints import checkpoint_digest, load_policy
from forest.validation import require
from redteam.cell import Cell
from redteam.episodes import build_economy
from redteam.suite_sections import (
    AttackEntry,
    DefenseEntry,
    EconomyEntry,
    MetricSettings,
    SuiteSettings,
)

SECTIONS = ("suite", "economies", "attacks", "defenses", "metrics")
NO_DEFENSE = "none"
CHECKPOINT_FILES = ("config.json", "model.safetensors")
# A token forest keeps its tokenizer beside it; a pretrained forest names its language model.
READER_FILES = ("tokenizer.json", "language_model.json")


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


def _table(data: dict[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(f"{where}: expected a list of tables ([[{key}]]), got {value!r}")
    return value


def _economy_config(entry: EconomyEntry, where: str) -> dict[str, Any]:
    if entry.name not in economy_names():
        raise ConfigError(
            f"{where}.name: unknown economy {entry.name!r}; allowed: {', '.join(economy_names())}"
        )
    cls = economy_class(entry.name).config_class
    if "n_agents" in entry.config:
        raise ConfigError(f"{where}.config.n_agents: set the size as {where}.agents")
    allowed = [f for f in cls.field_names() if f != "n_agents"]
    unknown = sorted(set(entry.config) - set(allowed))
    if unknown:
        raise ConfigError(
            f"{where}.config: unknown key {unknown[0]!r}; allowed: {', '.join(allowed)}"
        )
    try:
        config = cls().replace(**{**entry.config, "n_agents": entry.agents})
    except ConfigError as exc:
        message = str(exc)
        if message.startswith("n_agents"):
            raise ConfigError(f"{where}.agents{message.removeprefix('n_agents')}") from None
        raise ConfigError(f"{where}.config.{message}") from None
    return {
        k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()
    }


def _attack_variants(
    entry: AttackEntry, where: str
) -> list[tuple[str, dict[str, Any], dict[str, Any], tuple[str, float] | None]]:
    """(label, resolved params, resolved threat, swept value) for each variant of an entry."""
    if entry.name not in attack_names():
        raise ConfigError(
            f"{where}.name: unknown attack {entry.name!r}; allowed: {', '.join(attack_names())}"
        )
    cls = attack_class(entry.name)
    if len(entry.sweep) > 1:
        raise ConfigError(
            f"{where}.sweep: sweep one parameter at a time, got {sorted(entry.sweep)}"
        )
    sweeps: list[tuple[str, Any] | None] = [None]
    if entry.sweep:
        ((param, values),) = entry.sweep.items()
        if param in entry.params:
            raise ConfigError(f"{where}.sweep.{param}: also set in params; set it in one place")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where}.sweep.{param}: expected a non-empty list, got {values!r}")
        fields = [f.name for f in dataclasses.fields(cls.params_class)]
        if param not in fields:
            raise ConfigError(
                f"{where}.sweep: unknown parameter {param!r}; allowed: {', '.join(fields)}"
            )
        for v in values:
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise ConfigError(
                    f"{where}.sweep.{param}: only numeric parameters can be swept, got {v!r}; "
                    "write one [[attacks]] entry per value instead"
                )
            from_dict(cls.params_class, {param: v}, f"{where}.sweep")
        sweeps = [(param, v) for v in values]
    base_label = entry.label or entry.name
    if "|" in base_label:
        raise ConfigError(f"{where}.label: {base_label!r} contains '|'; choose another")
    variants = []
    for swept in sweeps:
        params = dict(entry.params)
        if swept is not None:
            params[swept[0]] = swept[1]
        attack = cls.from_config(params, entry.threat, where)
        label = base_label if swept is None else f"{base_label} {swept[0]}={swept[1]}"
        value = None if swept is None else (swept[0], float(swept[1]))
        variants.append((label, to_dict(attack.params), to_dict(attack.threat), value))
    return variants


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


def _check_threat(attack: str, threat: dict[str, Any], economy: Economy, where: str) -> None:
    """Choose the attacker's agents once, so a threat model the economy cannot satisfy (too
    many agents, a role it does not have) fails now rather than mid-run."""
    try:
        from_dict(ThreatModel, threat, where).choose_agents(economy, np.random.default_rng(0))
    except ConfigError as exc:
        raise ConfigError(f"{where}.{exc} (attack {attack} on {economy.name})") from None


def parse_suite(data: dict[str, Any], path: Path, check_checkpoint: bool = True) -> Suite:
    """A validated suite from parsed TOML; ``path`` names the file in errors."""
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"unknown section {unknown[0]!r}; allowed: {', '.join(SECTIONS)}")
    if "suite" not in data:
        raise ConfigError("suite: missing [suite] section (name, checkpoint, rounds, seeds)")
    settings = from_dict(SuiteSettings, data["suite"], "suite")
    economies = tuple(
        from_dict(EconomyEntry, e, f"economies[{i}]")
        for i, e in enumerate(_table(data, "economies", "economies"))
    )
    attacks = tuple(
        from_dict(AttackEntry, a, f"attacks[{i}]")
        for i, a in enumerate(_table(data, "attacks", "attacks"))
    )
    defenses = tuple(
        from_dict(DefenseEntry, d, f"defenses[{i}]")
        for i, d in enumerate(_table(data, "defenses", "defenses"))
    )
    metrics = from_dict(MetricSettings, data.get("metrics", {}), "metrics")
    if not economies:
        raise ConfigError("economies: a suite needs at least one [[economies]] entry")
    if not attacks:
        raise ConfigError("attacks: a suite needs at least one [[attacks]] entry")
    for r in metrics.blast_radius_rounds:
        require(
            r <= settings.rounds, "metrics.blast_radius_rounds", f"<= rounds ({settings.rounds})", r
        )

    _distinct_labels([e.label or e.name for e in economies], "economies")
    _distinct_labels([d.label or d.name for d in defenses], "defenses")
    economy_configs = [_economy_config(e, f"economies[{i}]") for i, e in enumerate(economies)]
    variants = [
        (a.name, *v, i) for i, a in enumerate(attacks) for v in _attack_variants(a, f"attacks[{i}]")
    ]
    built = [build_economy(e.name, c, 0) for e, c in zip(economies, economy_configs, strict=True)]
    for i, a in enumerate(attacks):
        for _, params, threat, _ in _attack_variants(a, f"attacks[{i}]"):
            attack = attack_class(a.name).from_config(params, threat, f"attacks[{i}]")
            for economy in built:
                try:
                    attack.check(economy, settings.rounds)
                except ConfigError as exc:
                    field = str(exc).split(":", 1)[0]
                    where = "sweep" if field in a.sweep else "params"
                    raise ConfigError(f"attacks[{i}].{where}.{exc} (on {economy.name})") from None
            last = max(metrics.blast_radius_rounds)
            if attack.first_round + last > settings.rounds:
                raise ConfigError(
                    f"metrics.blast_radius_rounds: {last} rounds after attacks[{i}] starts "
                    f"(round {attack.first_round}) is past the last round ({settings.rounds - 1})"
                )
            goal = OBJECTIVES[params["objective"]]
            for economy in built:
                _check_threat(a.name, threat, economy, f"attacks[{i}].threat")
                if goal.economies and economy.name not in goal.economies:
                    raise ConfigError(
                        f"attacks[{i}].params.objective: {goal.name!r} applies to "
                        f"{', '.join(goal.economies)}, not {economy.name}"
                    )
    labels = [v[1] for v in variants]
    duplicate = next((x for x in labels if labels.count(x) > 1), None)
    if duplicate is not None:
        raise ConfigError(f"attacks: two variants are both labelled {duplicate!r}; set label")
    defense_specs: list[tuple[str | None, str, dict[str, Any], Defense | None]] = []
    for i, d in enumerate(defenses):
        if d.name == NO_DEFENSE:  # the undefended row of a matrix, next to the defended ones
            if d.params:
                raise ConfigError(f"defenses[{i}].params: {NO_DEFENSE!r} takes no parameters")
            defense_specs.append((None, d.label or "no defense", {}, None))
            continue
        if d.name not in defense_names():
            raise ConfigError(
                f"defenses[{i}].name: unknown defense {d.name!r}; "
                f"allowed: {NO_DEFENSE}, {', '.join(defense_names())}"
            )
        detector = defense_class(d.name).from_config(d.params, f"defenses[{i}]")
        defense_specs.append((d.name, d.label or d.name, to_dict(detector.params), detector))
    if not defense_specs:
        defense_specs = [(None, "no defense", {}, None)]

    defense_labels = [label for _, label, _, _ in defense_specs]
    for i, a in enumerate(attacks):
        unknown = [label for label in a.defenses if label not in defense_labels]
        if unknown:
            raise ConfigError(
                f"attacks[{i}].defenses: no defense labelled {unknown[0]!r}; "
                f"the suite's defenses are {', '.join(defense_labels)}"
            )

    checkpoint = Path(settings.checkpoint)
    digest = ""
    if check_checkpoint:
        missing = [f for f in CHECKPOINT_FILES if not (checkpoint / f).is_file()]
        if not any((checkpoint / f).is_file() for f in READER_FILES):
            missing.append(READER_FILES[0])
        if missing:
            raise ConfigError(
                f"suite.checkpoint: no trained forest at {str(checkpoint)!r} "
                f"(missing {', '.join(missing)}); train one with `forest train --out DIR`"
            )
        digest = checkpoint_digest(checkpoint)
        try:  # a forest that cannot load must stop the suite before anything is written
            load_policy(checkpoint)
        except ForestError as exc:
            raise ConfigError(f"suite.checkpoint: {exc}") from None

    cells = tuple(
        Cell(
            suite=settings.name,
            economy=economy.name,
            economy_label=economy.label or economy.name,
            economy_config=econ_cfg,
            attack=attack_name,
            attack_label=label,
            attack_params=params,
            threat=threat,
            sweep=swept,
            defense=defense,
            defense_label=defense_label,
            defense_params=defense_params,
            seed=seed,
            rounds=settings.rounds,
            checkpoint=str(checkpoint),
            checkpoint_digest=digest,
            router=settings.router,
            metrics=to_dict(metrics),
            defense_digest=(
                instance.files_digest() if check_checkpoint and instance is not None else ""
            ),
        )
        for economy, econ_cfg in zip(economies, economy_configs, strict=True)
        for attack_name, label, params, threat, swept, entry in variants
        for defense, defense_label, defense_params, instance in defense_specs
        if not attacks[entry].defenses or defense_label in attacks[entry].defenses
        for seed in settings.seed_list
    )
    by_hash: dict[str, Cell] = {}
    for cell in cells:
        other = by_hash.setdefault(cell.hash, cell)
        if other is not cell:
            raise ConfigError(
                f"attacks/economies: '{other.group}' and '{cell.group}' are the same experiment "
                "(same resolved parameters); remove one"
            )
    return Suite(path, settings, economies, attacks, defenses, metrics, cells)


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
