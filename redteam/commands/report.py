"""``redteam report RUN_ID``: rebuild a suite's report from what MLflow holds."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from rich.console import Console


def add_parser(sub: argparse._SubParsersAction) -> None:
    report = sub.add_parser(
        "report",
        help="rebuild a suite's report from MLflow",
        description="Rebuild report.md, report.html, the plots and the results tables of a suite "
        "run from MLflow alone (the cells' logged results), and print its scorecard.",
    )
    report.add_argument("run_id", help="the suite's MLflow parent run id (printed by `run`)")
    report.add_argument("--tracking-uri", help="MLflow tracking URI (default as for `run`)")
    report.add_argument("--out", type=Path, help="report folder (default: reports/RUN_ID)")
    report.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from redteam.commands.console import wide_console
    from redteam.scorecard import terminal_table
    from redteam.suite_run import CELLS_JSON, build_report, report_context
    from redteam.tracking import load_cell, open_run, tracking_uri

    uri = tracking_uri(args.tracking_uri)
    client, run = open_run(uri, args.run_id)
    if run is None:
        print(f"redteam: error: run_id: no MLflow run {args.run_id!r} at {uri}", file=sys.stderr)
        return 2
    if run.data.tags.get("redteam.kind") != "suite":
        parent = run.data.tags.get("mlflow.parentRunId", "")
        hint = f" (its suite run is {parent})" if parent else ""
        print(f"redteam: error: run_id: {args.run_id} is not a suite run{hint}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = client.download_artifacts(args.run_id, CELLS_JSON, tmp)
        except Exception:  # MLflow raises several types for a missing artifact
            print(
                f"redteam: error: run_id: {args.run_id} has no {CELLS_JSON}: the suite did not "
                "finish; rerun it with `redteam run` to resume",
                file=sys.stderr,
            )
            return 2
        run_ids = json.loads(Path(path).read_text())
    suite_toml = run.data.tags.get("redteam.suite_file", "")
    name = run.info.run_name
    results = [load_cell(client, run_id) for run_id in run_ids]
    out = args.out or Path("reports") / args.run_id
    if not results:
        print(f"redteam: error: run_id: {args.run_id} holds no cells", file=sys.stderr)
        return 2
    context = report_context(name, args.run_id, uri, len(results))
    context["suite file"] = suite_toml
    rows = build_report(out, f"Red-team suite: {name}", results, context, results[0].settings)
    wide_console().print(terminal_table(rows, f"Scorecard: {name}"))
    Console(stderr=True).print(f"report: {out / 'report.html'}", highlight=False)
    return 0
