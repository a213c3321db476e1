"""The red-team harness as a library: build a suite in Python, run it, read its results.

    import redteam

    suite = redteam.build_suite(
        redteam.SuiteSettings(name="mine", checkpoint="checkpoints/small", rounds=12, seeds=3),
        economies=[redteam.EconomyEntry("supply_chain", agents=200)],
        attacks=[redteam.AttackEntry("latent-noise", params={"start_round": 4},
                                     threat={"fraction": 0.05})],
    )
    results = redteam.run(suite)            # no MLflow; tracking="sqlite:///mlflow.db" logs
    results.groups[["group", "harm", "harm_low", "harm_high"]]

A suite built here is validated by exactly the checks a TOML file gets (it is turned into the
same sections and read by ``redteam.suite.parse_suite``), and runs on the same engine.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from forest.errors import ConfigError
from redteam.executors import make_executor
from redteam.metrics import CellResult
from redteam.scorecard import GroupRow, cells_frame, group_rows, groups_frame
from redteam.suite import Suite, SuiteError, parse_suite
from redteam.suite_sections import (
    AttackEntry,
    DefenseEntry,
    EconomyEntry,
    MetricSettings,
    SuiteSettings,
)

PYTHON_SUITE = Path("<python>")  # what errors name instead of a file


def _table(entry: object) -> dict[str, Any]:
    """A section dataclass as the TOML table it mirrors (tuples as lists, as TOML reads them)."""
    return {
        k: list(v) if isinstance(v, tuple) else v
        for k, v in dataclasses.asdict(entry).items()  # type: ignore[call-overload]
    }


def build_suite(
    settings: SuiteSettings,
    economies: Sequence[EconomyEntry],
    attacks: Sequence[AttackEntry],
    defenses: Sequence[DefenseEntry] = (),
    metrics: MetricSettings | None = None,
) -> Suite:
    """A validated suite from its sections, checked as a suite file is (a ``SuiteError`` names
    the field at fault)."""
    data: dict[str, Any] = {
        "suite": _table(settings),
        "economies": [_table(e) for e in economies],
        "attacks": [_table(a) for a in attacks],
        "defenses": [_table(d) for d in defenses],
        "metrics": _table(metrics or MetricSettings()),
    }
    try:
        return parse_suite(data, PYTHON_SUITE)
    except ConfigError as exc:
        raise SuiteError(f"suite: {exc}") from None


@dataclass(frozen=True)
class Results:
    """A run's results: one row per cell and per group (mean and t interval over seeds, as
    ``METRIC``, ``METRIC_low``, ``METRIC_high``), and each cell's full record (per-round
    curves, per-agent arrays)."""

    cells: pd.DataFrame
    groups: pd.DataFrame
    records: list[CellResult]
    rows: list[GroupRow]


def run(
    suite: Suite,
    tracking: str | None = None,
    workers: int = 1,
    out: str | Path | None = None,
) -> Results:
    """Run every cell of ``suite``. ``tracking`` None keeps everything in memory; an MLflow URI
    logs the run there as ``redteam run`` does (finished cells are reused, a report is written
    to ``out``, default results/NAME)."""
    executor = make_executor(workers)
    if tracking is None:
        records = [result for _, result in executor.run(suite.cells)]
        order = {cell.hash: i for i, cell in enumerate(suite.cells)}
        records.sort(key=lambda r: order[r.cell_hash])
        rows = group_rows(records, suite.metrics.confidence)
    else:
        from rich.console import Console

        from redteam.suite_run import run_suite

        folder = Path(out) if out is not None else Path("results") / suite.settings.name
        outcome = run_suite(suite, tracking, executor, False, folder, Console(quiet=True))
        records, rows = outcome.results, outcome.rows
    return Results(cells_frame(records), groups_frame(rows), records, rows)
