"""Expansion: a validated suite into its grid of cells, economy x attack variant x defense x
seed. Everything here is already checked and resolved (``redteam.suite`` did that), so the
grid is plain bookkeeping; the one thing left to refuse is two cells that are the same
experiment, which only the resolved values can show."""

from __future__ import annotations

from pathlib import Path

from forest.errors import ConfigError
from forest.params import to_dict
from redteam.cell import Cell
from redteam.suite_sections import (
    AttackVariant,
    ResolvedDefense,
    ResolvedEconomy,
    ValidatedSuite,
)


def expand_cells(suite: ValidatedSuite) -> tuple[Cell, ...]:
    """Every cell of the grid, in the order the scorecard lists them; an attack entry that
    names its defenses meets only those."""
    cells = tuple(
        _cell(suite, economy, variant, defense, seed)
        for economy in suite.economies
        for variant in suite.variants
        for defense in suite.defenses
        if variant.meets(defense.label)
        for seed in suite.sections.settings.seed_list
    )
    _check_distinct_experiments(cells)
    return cells


def _cell(
    suite: ValidatedSuite,
    economy: ResolvedEconomy,
    variant: AttackVariant,
    defense: ResolvedDefense,
    seed: int,
) -> Cell:
    settings = suite.sections.settings
    return Cell(
        suite=settings.name,
        economy=economy.entry.name,
        economy_label=economy.label,
        economy_config=economy.config,
        attack=variant.entry.name,
        attack_label=variant.label,
        attack_params=variant.params,
        threat=variant.threat,
        sweep=variant.sweep,
        placebo=variant.placebo,
        defense=defense.name,
        defense_label=defense.label,
        defense_params=defense.params,
        seed=seed,
        rounds=settings.rounds,
        checkpoint=str(Path(settings.checkpoint)),
        checkpoint_digest=suite.checkpoint_digest,
        router=settings.router,
        metrics=to_dict(suite.sections.metrics),
        defense_digest=defense.files_digest,
    )


def _check_distinct_experiments(cells: tuple[Cell, ...]) -> None:
    """Entries written differently can resolve to one experiment (``norm = 4`` and
    ``norm = 4.0``); run twice, it would count twice in the scorecard."""
    by_hash: dict[str, Cell] = {}
    for cell in cells:
        other = by_hash.setdefault(cell.hash, cell)
        if other is not cell:
            raise ConfigError(
                f"attacks/economies: '{other.group}' and '{cell.group}' are the same experiment "
                "(same resolved parameters); remove one"
            )
