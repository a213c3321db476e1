"""``forest bench``: round latency, FLOPs and memory of the forest against the dense baseline."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.table import Table

from forest.bench import BenchRow, as_dicts, ratios, run_bench
from forest.economy import economy_class, economy_names
from forest.errors import InvalidInputError


def _sizes(text: str, flag: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InvalidInputError(
            f"{flag}: expected comma-separated agent counts, got {text!r}"
        ) from None
    if any(n < 2 or n > 1_000_000 for n in sizes):
        raise InvalidInputError(f"{flag}: agent counts must lie in [2, 1000000], got {sizes}")
    return sizes


def bench(args: argparse.Namespace, console: Console) -> int:
    economy_class(args.economy)
    if args.rounds < 1:
        raise InvalidInputError(f"--rounds: expected at least 1 timed round, got {args.rounds}")
    if args.warmup < 0:
        raise InvalidInputError(f"--warmup: expected 0 or more rounds, got {args.warmup}")
    agents = _sizes(args.agents, "--agents")
    dense_agents = _sizes(args.dense_agents, "--dense-agents") if args.dense_agents else []

    def show(row: BenchRow) -> None:
        if not args.json:
            console.print(
                f"  {row.model:>6} {row.agents:>7,} agents: {row.median_ms:9.1f} ms median, "
                f"{row.gflops:8.2f} GFLOP, peak {row.peak_rss_mb:7.0f} MB"
            )

    rows = run_bench(
        agents,
        dense_agents,
        economy_name=args.economy,
        rounds=args.rounds,
        warmup=args.warmup,
        checkpoint=args.checkpoint,
        preset=args.preset,
        threads=args.threads,
        on_row=show,
    )
    summary = ratios(rows)
    if args.json:
        print(json.dumps({"rows": as_dicts(rows), "ratios": summary}, indent=2))
        return 0
    table = Table(title=f"forest round on {args.economy} ({args.rounds} rounds, median)")
    for column in ("model", "agents", "median ms", "min ms", "GFLOP/round", "peak MB", "kept"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(
            r.model,
            f"{r.agents:,}",
            f"{r.median_ms:.1f}",
            f"{r.min_ms:.1f}",
            f"{r.gflops:.2f}",
            f"{r.peak_rss_mb:.0f}",
            f"{r.router_kept_share:.1%}",
        )
    console.print(table)
    for key, value in summary.items():
        shown = f"{value:.1%}" if "cut" in key else f"{value:.2f}"
        console.print(f"  {key}: {shown}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser(
        "bench",
        help="round latency, FLOPs and memory of the forest vs the dense baseline",
        description="Median latency of a full forest round (tokenize, forward, decode, route) "
        "over --rounds rounds after warm-up, each size in a fresh process (peak memory is its "
        "own), next to DenseForest at the sizes where it fits.",
    )
    b.add_argument("--checkpoint", default=None, help="trained forest (default: untrained preset)")
    b.add_argument("--preset", default="small", help="preset when no checkpoint is given")
    b.add_argument("--agents", default="1000,5000,10000,100000", help="comma-separated sizes")
    b.add_argument("--dense-agents", default="250,500,1000", help="sizes for DenseForest")
    b.add_argument("--economy", default="supply_chain", choices=economy_names())
    b.add_argument("--rounds", type=int, default=5, help="timed rounds (default: %(default)s)")
    b.add_argument(
        "--warmup",
        type=int,
        default=2,
        help="untimed rounds first (default: %(default)s; 0 for one-off sizes like 1,000,000)",
    )
    b.add_argument("--threads", type=int, default=2, help="torch threads (default: %(default)s)")
    b.add_argument("--json", action="store_true", help="print JSON instead of a table")
    b.set_defaults(handler=bench)
