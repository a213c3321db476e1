"""``redteam run SUITE``: validate, run every cell (skipping finished ones), print the scorecard."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from forest.errors import ForestError
from redteam.commands.console import sigterm_as_interrupt, wide_console
from redteam.executors import EXECUTORS, make_executor
from redteam.scorecard import terminal_table, zero_success_warnings
from redteam.suite import load_suite

if TYPE_CHECKING:
    from redteam.suite_run import SuiteOutcome


def add_parser(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser(
        "run",
        help="run an attack suite against a trained forest",
        description="Run a suite (economies x attacks x defenses x seeds) against a trained "
        "forest, log every cell to MLflow and print the scorecard. Cells already finished in "
        "MLflow (same content hash) are skipped, so rerunning a killed sweep resumes it.",
    )
    run.add_argument("suite", help="suite file (TOML), e.g. experiments/suites/quickstart.toml")
    run.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db "
        "in the current folder)",
    )
    run.add_argument(
        "--workers",
        type=int,
        default=1,
        help="cells in parallel: local processes, or the CPUs of a private local Ray (default 1)",
    )
    run.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="local",
        help="where cells run: local processes (default) or Ray tasks (needs the [ray] extra); "
        "results and MLflow logging are the same",
    )
    run.add_argument(
        "--address",
        help="Ray cluster to use with --executor ray: auto (the one running here) or "
        "ray://HOST:PORT (default: $RAY_ADDRESS, else a private local Ray of --workers CPUs)",
    )
    run.add_argument("--rerun", action="store_true", help="run finished cells again")
    run.add_argument(
        "--out", type=Path, help="report folder (default: results/SUITE_NAME)", default=None
    )
    run.add_argument("--json-out", type=Path, help="also write the scorecard and cells as JSON")
    run.set_defaults(handler=handle)


def outcome_json(outcome: SuiteOutcome, suite_name: str) -> dict:
    return {
        "suite": suite_name,
        "parent_run_id": outcome.parent_run_id,
        "tracking_uri": outcome.tracking_uri,
        "report_dir": str(outcome.report_dir),
        "groups": [
            {
                "group": row.group,
                "seeds": list(row.seeds),
                "metrics": {
                    k: {"mean": e.mean, "low": e.low, "high": e.high}
                    for k, e in row.estimates.items()
                },
            }
            for row in outcome.rows
        ],
        "cells": [
            {
                "group": r.group,
                "seed": r.seed,
                "cell_hash": r.cell_hash,
                "run_id": r.run_id,
                "metrics": r.scalars,
            }
            for r in outcome.results
        ],
    }


def handle(args: argparse.Namespace) -> int:
    console = Console(stderr=True, soft_wrap=True)
    try:
        suite = load_suite(args.suite)
        if args.workers < 1:
            raise ForestError(f"--workers: expected an integer >= 1, got {args.workers}")
        executor = make_executor(args.workers, args.executor, args.address)
    except (ForestError, ValueError) as exc:
        print(f"redteam: error: {exc}", file=sys.stderr)
        return 2
    # Imported here: MLflow and the runner take seconds to import, and validation must not.
    from redteam.suite_run import run_suite
    from redteam.tracking import tracking_uri

    out = args.out or Path("results") / suite.settings.name
    uri = tracking_uri(args.tracking_uri)
    console.print(
        f"suite {suite.settings.name}: {len(suite.cells)} cells, tracking {uri}", highlight=False
    )
    with sigterm_as_interrupt():
        outcome = run_suite(suite, uri, executor, args.rerun, out, console)
    wide_console().print(terminal_table(outcome.rows, f"Scorecard: {suite.settings.name}"))
    for warning in zero_success_warnings(outcome.rows):
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}")
    if args.json_out:
        args.json_out.write_text(json.dumps(outcome_json(outcome, suite.settings.name), indent=2))
    console.print(
        f"ran {outcome.ran} cell(s), reused {outcome.reused}; report: {out / 'report.html'}; "
        f"MLflow parent run {outcome.parent_run_id}",
        highlight=False,
    )
    if uri.startswith("sqlite:///"):
        console.print(f"browse: mlflow ui --backend-store-uri {uri}", highlight=False)
    return 0
