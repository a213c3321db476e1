"""Running a whole suite: skip what MLflow already holds, run the rest, log, report.

Every cell is logged the moment it finishes. If the sweep dies (a crash, Ctrl-C, a killed
job), the parent run is closed as KILLED or FAILED with every finished cell kept, and the same
command resumes: finished cells are found by hash and skipped (``rerun=True`` runs them again).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from forest.commands.common import progress_bar
from redteam.cell import Cell
from redteam.executors import Executor
from redteam.metrics import CellResult
from redteam.report import write_report
from redteam.scorecard import GroupRow, group_rows
from redteam.suite import Suite
from redteam.tracking import Tracker

CELLS_JSON = "cells.json"


@dataclass(frozen=True)
class SuiteOutcome:
    parent_run_id: str
    tracking_uri: str
    results: list[CellResult]
    rows: list[GroupRow]
    ran: int
    reused: int
    report_dir: Path


def report_context(suite_name: str, parent_id: str, uri: str, n_cells: int) -> dict[str, str]:
    return {
        "suite": suite_name,
        "MLflow parent run": parent_id,
        "tracking URI": uri,
        "cells": str(n_cells),
    }


def build_report(
    out: Path, title: str, results: list[CellResult], context: dict[str, str], suite_metrics: dict
) -> list[GroupRow]:
    rows = group_rows(results, suite_metrics["confidence"])
    write_report(out, title, results, rows, context)
    (out / CELLS_JSON).write_text(json.dumps([r.run_id for r in results]))
    return rows


def relabel(result: CellResult, cell: Cell) -> CellResult:
    """A reused result under the names the current suite gives its cell (labels are not part
    of the hash, so a renamed entry reuses its results)."""
    result.group, result.attack_label = cell.group, cell.attack_label
    return result


def run_suite(
    suite: Suite, uri: str, executor: Executor, rerun: bool, out: Path, console: Console
) -> SuiteOutcome:
    """Run the suite's unfinished cells on ``executor``, log each to MLflow as it finishes,
    and write the report."""
    started = time.perf_counter()
    tracker = Tracker(uri, suite)
    parent = tracker.start()
    finished = {} if rerun else tracker.finished_cells()
    todo = list({c.hash: c for c in suite.cells if c.hash not in finished}.values())
    tracker.abandon_unfinished({c.hash for c in todo})
    results = {
        c.hash: relabel(tracker.load_cell(finished[c.hash]), c)
        for c in suite.cells
        if c.hash in finished
    }
    if results:
        console.print(
            f"{len(results)} cell(s) already in MLflow: skipped (--rerun runs them again)"
        )
    status = "FAILED"
    try:
        with progress_bar(console) as progress:
            task = progress.add_task(f"suite {suite.settings.name}", total=len(todo))
            for cell, result in executor.run(todo):
                tracker.log_cell(cell, result)
                results[cell.hash] = result
                progress.update(task, advance=1, description=cell.group)
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        if status != "FINISHED":
            tracker.client.set_terminated(parent, status=status)
    ordered = [results[c.hash] for c in suite.cells]
    context = report_context(suite.settings.name, parent, uri, len(ordered))
    rows = build_report(
        out, f"Red-team suite: {suite.settings.name}", ordered, context, suite.cells[0].metrics
    )
    tracker.finish(
        out,
        {
            "cells": len(ordered),
            "cells_run": len(todo),
            "cells_reused": len(ordered) - len(todo),
            "wall_seconds": time.perf_counter() - started,
        },
    )
    return SuiteOutcome(parent, uri, ordered, rows, len(todo), len(ordered) - len(todo), out)
