"""``redteam collusion SUITE``: the labelled collusion benchmark and its detection table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from forest.errors import ForestError
from redteam.collusion.suite import load_suite


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "collusion",
        help="benchmark collusion and price-fixing screens on labelled markets",
        description="Simulate the suite's labelled markets (cartels, collusive Q-learners and "
        "honest look-alikes), score each with every collusion screen, fit the combined detector "
        "on the train seeds and report, on the test seeds: ROC AUC, TPR at the target FPR, the "
        "alarm rate on every scenario (FPR of each hard negative) and the CUSUM's time to "
        "detection. Writes report.md, report.json, CSVs and roc.png, and logs one MLflow run.",
    )
    parser.add_argument("suite", help="suite file (TOML), e.g. experiments/suites/collusion.toml")
    parser.add_argument(
        "--out", type=Path, default=None, help="report folder (default: results/collusion-NAME)"
    )
    parser.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db "
        "in the current folder)",
    )
    parser.add_argument("--no-mlflow", action="store_true", help="do not log an MLflow run")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    console = Console(stderr=True, soft_wrap=True)
    try:
        suite = load_suite(args.suite)
    except (ForestError, ValueError) as exc:
        print(f"redteam: error: {exc}", file=sys.stderr)
        return 2
    # Imported here so that a bad suite file is refused before the slow imports.
    import pandas as pd

    from redteam.collusion.benchmark import (
        add_combined,
        detection_table,
        score_markets,
        time_to_detection,
    )
    from redteam.collusion.report import log_to_mlflow, markdown, write_report
    from redteam.tracking import tracking_uri

    out = args.out or Path("results") / f"collusion-{suite.name}"
    steps = len(suite.scenarios) * (len(suite.train_seeds) + len(suite.test_seeds))
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("simulating markets", total=steps)
        scored = score_markets(
            suite, out / "cache",
            lambda what: progress.update(task, advance=1, description=what),
        )  # fmt: skip
    add_combined(scored, suite)
    detection = pd.concat([detection_table(scored, suite, g) for g in suite.groups])
    delays = time_to_detection(scored, suite)
    files = write_report(scored, detection, delays, suite, out)
    print(markdown(detection, delays, suite, scored.channel_errors))
    if not args.no_mlflow:
        uri = tracking_uri(args.tracking_uri)
        run_id = log_to_mlflow(uri, suite, detection, delays, files)
        console.print(f"MLflow run {run_id} ({uri})", highlight=False)
    console.print(f"report: {files['markdown']}, ROC curves: {files['roc']}", highlight=False)
    return 0
