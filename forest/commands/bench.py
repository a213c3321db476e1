"""``forest bench``: round latency, FLOPs, efficiency and memory of the forest against the dense
baseline, in float32 or (opt-in) bfloat16, on the CPU or a GPU."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.table import Table

from forest.bench import BenchRow, as_dicts, compare_play, in_fresh_process, ratios, run_bench
from forest.economy import economy_class, economy_names
from forest.errors import InvalidInputError
from forest.precision import DEVICES, DTYPES, REFERENCE, require_device


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


def _at_least_one(value: int, flag: str, what: str) -> None:
    if value < 1:
        raise InvalidInputError(f"{flag}: expected at least 1 {what}, got {value}")


def _row_line(row: BenchRow) -> str:
    line = (
        f"  {row.model:>6} {row.dtype} {row.agents:>7,} agents: {row.median_ms:9.1f} ms median, "
        f"{row.gflops:8.2f} GFLOP, {row.gflop_per_s:7.1f} GFLOP/s = {row.efficiency:.2f} of a "
        f"{row.dtype} matmul ({row.matmul_gflop_per_s:.0f}), peak {row.peak_rss_mb:7.0f} MB"
    )
    if row.speedup_vs_fp32 is not None:
        line += f", {row.speedup_vs_fp32:.2f}x fp32, {row.action_agreement:.1%} actions as fp32"
    return line


def _play_line(play: dict, dtype: str) -> str:
    fp32, low = play[REFERENCE], play[dtype]
    return (
        f"  clean play ({play['economy']}, {play['agents']:,} agents, {play['rounds']} rounds, "
        f"{play['seeds']} seeds): task completion {fp32['task_completion']:.4f} fp32 vs "
        f"{low['task_completion']:.4f} {dtype}; welfare {fp32['welfare']:.4f} vs "
        f"{low['welfare']:.4f}"
    )


def bench(args: argparse.Namespace, console: Console) -> int:
    economy_class(args.economy)
    _at_least_one(args.rounds, "--rounds", "timed round")
    if args.warmup < 0:
        raise InvalidInputError(f"--warmup: expected 0 or more rounds, got {args.warmup}")
    _at_least_one(args.play_rounds, "--play-rounds", "round")
    _at_least_one(args.play_seeds, "--play-seeds", "seed")
    agents = _sizes(args.agents, "--agents")
    dense_agents = _sizes(args.dense_agents, "--dense-agents") if args.dense_agents else []
    require_device(args.device)

    def show(row: BenchRow) -> None:
        if not args.json:
            console.print(_row_line(row))

    rows = run_bench(
        agents,
        dense_agents,
        economy_name=args.economy,
        rounds=args.rounds,
        warmup=args.warmup,
        checkpoint=args.checkpoint,
        preset=args.preset,
        threads=args.threads,
        dtype=args.dtype,
        device=args.device,
        on_row=show,
    )
    # What the lower precision does to play, at the smallest size: float32 stays the default.
    play = None
    if args.dtype != REFERENCE and agents:
        play = in_fresh_process(
            compare_play, args.economy, min(agents), args.play_rounds, args.play_seeds,
            args.checkpoint, args.preset, args.threads, args.dtype, args.device,
        )  # fmt: skip
    summary = ratios(rows)
    if args.json:
        report = {"rows": as_dicts(rows), "ratios": summary}
        if play is not None:
            report["play"] = play
        print(json.dumps(report, indent=2))
        return 0
    title = f"forest round on {args.economy}, {args.device} ({args.rounds} rounds, median)"
    table = Table(title=title)
    columns = ["model", "dtype", "agents", "median ms", "min ms", "GFLOP/round", "GFLOP/s"]
    columns += ["efficiency", "peak MB", "kept"]
    compared = args.dtype != REFERENCE
    if compared:
        columns += ["x fp32", "actions as fp32"]
    for column in columns:
        table.add_column(column, justify="right")
    for r in rows:
        cells = [r.model, r.dtype, f"{r.agents:,}", f"{r.median_ms:.1f}", f"{r.min_ms:.1f}"]
        cells += [f"{r.gflops:.2f}", f"{r.gflop_per_s:.1f}", f"{r.efficiency:.2f}"]
        cells += [f"{r.peak_rss_mb:.0f}", f"{r.router_kept_share:.1%}"]
        if compared and r.speedup_vs_fp32 is not None:
            cells += [f"{r.speedup_vs_fp32:.2f}", f"{r.action_agreement:.1%}"]
        elif compared:
            cells += ["", ""]
        table.add_row(*cells)
    console.print(table)
    console.print("  efficiency: achieved GFLOP/s over a 2048x2048 matmul's, same dtype and run")
    for key, value in summary.items():
        shown = f"{value:.1%}" if "cut" in key else f"{value:.2f}"
        console.print(f"  {key}: {shown}")
    if play is not None:
        console.print(_play_line(play, args.dtype))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser(
        "bench",
        help="round latency, FLOPs, efficiency and memory of the forest vs the dense baseline",
        description="Median latency of a full forest round (tokenize, forward, decode, route) "
        "over --rounds rounds after warm-up, each size in a fresh process (peak memory is its "
        "own), next to DenseForest at the sizes where it fits. Efficiency is the round's "
        "achieved GFLOP/s over that of a 2048x2048 matmul in the same dtype, timed in the same "
        "process. --dtype bf16 also plays every round in fp32 on the same inputs (speed-up, "
        "share of actions unchanged) and short clean episodes in both (completion, welfare).",
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
    b.add_argument(
        "--dtype",
        default=REFERENCE,
        choices=sorted(DTYPES),
        help="bf16: torch.autocast to bfloat16, next to fp32 (default: %(default)s)",
    )
    b.add_argument("--device", default="cpu", choices=DEVICES, help="(default: %(default)s)")
    b.add_argument(
        "--play-rounds",
        type=int,
        default=20,
        help="rounds of each clean episode that --dtype bf16 plays (default: %(default)s)",
    )
    b.add_argument(
        "--play-seeds",
        type=int,
        default=2,
        help="clean episodes per precision with --dtype bf16 (default: %(default)s)",
    )
    b.add_argument("--json", action="store_true", help="print JSON instead of a table")
    b.set_defaults(handler=bench)
