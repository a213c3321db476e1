"""``redteam curve SUITE``: every attack of a suite swept over the compromised share, harm with
its interval at each share, and the breakdown point where harm passes the threshold."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

from rich.console import Console
from rich.table import Table

from forest.errors import ForestError
from redteam.commands.console import sigterm_as_interrupt, wide_console
from redteam.curves import DEFAULT_SHARES, DEFAULT_THRESHOLD, Curve, check_shares
from redteam.executors import make_executor
from redteam.suite import load_suite

CURVES_JSON = "curves.json"
CURVES_PNG = "security_curves.png"


def add_parser(sub: argparse._SubParsersAction) -> None:
    curve = sub.add_parser(
        "curve",
        help="sweep each attack of a suite over the compromised share: security curves and "
        "breakdown points",
        description="Play every (economy, attack, defense) group of a suite at several "
        "compromised shares (the threat's fraction; every seed of the suite at each), report "
        "harm with its t interval at each share, and the breakdown point: the smallest share "
        "at which mean harm exceeds THRESHOLD times the twin's welfare, refined by bisection, "
        "with the interval from inverting the harm intervals. Cells are logged to MLflow as "
        "`redteam run` logs them (a rerun skips finished ones); the table, curves.json and "
        "the figure go to --out and to an MLflow run of their own.",
    )
    curve.add_argument("suite", help="suite file (TOML); its threats' fractions are swept")
    curve.add_argument(
        "--shares",
        default=",".join(str(s) for s in DEFAULT_SHARES),
        help="comma-separated compromised shares in (0, 1] (default: %(default)s)",
    )
    curve.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        help="harm that counts as breakdown, as a share of the twin's welfare (default 0.05)",
    )
    curve.add_argument(
        "--bisect", type=int, default=2, help="bisections of the crossing bracket (default 2)"
    )
    curve.add_argument("--workers", type=int, default=1, help="cells in parallel (default 1)")
    curve.add_argument("--tracking-uri", help="MLflow tracking URI (default as `redteam run`)")
    curve.add_argument("--out", type=Path, help="output folder (default: results/SUITE-curve)")
    curve.set_defaults(handler=handle)


def _shares(text: str) -> tuple[float, ...]:
    try:
        values = [float(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise ForestError(f"--shares: expected comma-separated numbers, got {text!r}") from None
    return check_shares(values)


def curves_table(curves: list[Curve]) -> Table:
    shares = sorted({p.share for c in curves for p in c.points})
    table = Table(title="Harm against the compromised share (mean [95% t interval], ns: holds 0)")
    table.add_column("economy | attack | defense")
    for share in shares:
        table.add_column(f"{share:.3g}", justify="right")
    table.add_column("breakdown point [interval]", justify="right")
    for curve in curves:
        by_share = {p.share: p.harm.short(2) for p in curve.points}
        table.add_row(curve.group, *(by_share.get(s, "") for s in shares),
                      curve.breakdown.text(shares[-1]))  # fmt: skip
    return table


def curves_json(curves: list[Curve], threshold: float) -> dict:
    return {
        "threshold_share_of_twin_welfare": threshold,
        "curves": [
            {
                "group": c.group,
                "breakdown": asdict(c.breakdown),
                "points": [{**asdict(p), "harm": asdict(p.harm)} for p in c.points],
            }
            for c in curves
        ],
    }


def handle(args: argparse.Namespace) -> int:
    console = Console(stderr=True, soft_wrap=True)
    try:
        suite = load_suite(args.suite)
        shares = _shares(args.shares)
        if args.workers < 1:
            raise ForestError(f"--workers: expected an integer >= 1, got {args.workers}")
        if not args.threshold > 0:
            raise ForestError(f"--threshold: expected a positive share, got {args.threshold}")
        if args.bisect < 0:
            raise ForestError(f"--bisect: expected 0 or more, got {args.bisect}")
        executor = make_executor(args.workers)
    except (ForestError, ValueError) as exc:
        print(f"redteam: error: {exc}", file=sys.stderr)
        return 2
    # Imported here: MLflow and the runner take seconds to import, and validation must not.
    import matplotlib.pyplot as plt

    from redteam.curves import security_curves
    from redteam.plots import security_curves as curves_figure
    from redteam.suite_run import run_suite
    from redteam.tracking import Tracker, tracking_uri

    out = args.out or Path("results") / f"{suite.settings.name}-curve"
    uri = tracking_uri(args.tracking_uri)
    batches = []

    def evaluate(cells):
        # Each batch (the grid, then each bisection) is a suite run of its own in MLflow.
        batch = replace(suite, cells=tuple(cells))
        name = "grid" if not batches else f"bisection-{len(batches)}"
        batches.append(name)
        console.print(f"{name}: {len(cells)} cells", highlight=False)
        return run_suite(batch, uri, executor, False, out / name, console).results

    with sigterm_as_interrupt():
        curves = security_curves(suite.cells, evaluate, shares, args.threshold, args.bisect,
                                 suite.metrics.confidence)  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    (out / CURVES_JSON).write_text(json.dumps(curves_json(curves, args.threshold), indent=2))
    figure = curves_figure(curves)
    figure.savefig(out / CURVES_PNG, dpi=120)
    plt.close(figure)
    tracker = Tracker(uri, suite)
    run = tracker.client.create_run(tracker.experiment_id, run_name=f"{suite.settings.name} curve",
                                    tags={"redteam.kind": "curve"})  # fmt: skip
    for name in (CURVES_JSON, CURVES_PNG):
        tracker.client.log_artifact(run.info.run_id, str(out / name))
    tracker.client.set_terminated(run.info.run_id)
    wide_console().print(curves_table(curves))
    console.print(f"curves: {out / CURVES_JSON}, figure: {out / CURVES_PNG}; "
                  f"MLflow run {run.info.run_id}", highlight=False)  # fmt: skip
    return 0
