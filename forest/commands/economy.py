"""``forest expert-eval`` and ``forest demo``: the economies under their expert policies."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.table import Table

from forest.commands.common import progress_bar
from forest.economy import economy_class, economy_names
from forest.economy.rollout import evaluate_expert, summarize

DEFAULT_ROUNDS = 50


def expert_eval(args: argparse.Namespace, console: Console) -> int:
    # An unknown economy or preset fails before any work.
    config = economy_class(args.economy).config_class.preset(args.preset)
    n_agents = args.agents or config.n_agents
    settings = [True, False] if args.no_messages else [True]
    results = {}
    with progress_bar(console) as progress:
        for messages in settings:
            label = "messages" if messages else "no messages"
            task = progress.add_task(f"{args.economy} ({label})", total=args.seeds * args.rounds)
            episodes = evaluate_expert(
                args.economy,
                args.seeds,
                args.rounds,
                n_agents,
                messages,
                on_round=lambda task=task: progress.advance(task),
                config=config,
            )
            results[messages] = (episodes, summarize(episodes))

    if args.json:
        print(json.dumps(_as_json(args, n_agents, results), indent=2))
        return 0
    title = f"expert on {args.economy} ({args.preset}): {n_agents} agents, {args.rounds} rounds"
    table = Table(title=title)
    table.add_column("metric")
    table.add_column(f"with messages ({args.seeds} seeds)", justify="right")
    if args.no_messages:
        table.add_column("messages cut", justify="right")
        table.add_column("cut - with", justify="right")
    with_msgs = results[True][1]
    for key, (mean, sd) in with_msgs.items():
        row = [key, f"{mean:.4f} ± {sd:.4f}"]
        if args.no_messages:
            cut_mean, cut_sd = results[False][1][key]
            row += [f"{cut_mean:.4f} ± {cut_sd:.4f}", f"{cut_mean - mean:+.4f}"]
        table.add_row(*row)
    console.print(table)
    return 0


def _as_json(args: argparse.Namespace, n_agents: int, results: dict) -> dict:
    def block(messages: bool) -> dict:
        episodes, summary = results[messages]
        return {
            **{key: mean for key, (mean, _) in summary.items()},
            "std": {key: sd for key, (_, sd) in summary.items()},
            "per_seed": [
                {"seed": e.seed, "task_completion": e.task_completion, **e.metrics}
                for e in episodes
            ],
            "message_tokens": [e.delivered_tokens for e in episodes],
        }

    out = {
        "economy": args.economy,
        "preset": args.preset,
        "n_agents": n_agents,
        "rounds": args.rounds,
        "seeds": list(range(args.seeds)),
        **block(True),
    }
    if args.no_messages:
        out["no_messages"] = block(False)
    return out


def demo(args: argparse.Namespace, console: Console) -> int:
    """One expert episode of every economy at its default size, as a first look."""
    table = Table(title=f"expert policies, seed 0, {args.rounds} rounds")
    for column in ("economy", "agents", "task completion", "headline metrics"):
        table.add_column(column)
    with progress_bar(console) as progress:
        for name in economy_names():
            task = progress.add_task(name, total=args.rounds)
            (episode,) = evaluate_expert(
                name, 1, args.rounds, on_round=lambda task=task: progress.advance(task)
            )
            metrics = ", ".join(f"{k} {v:.3f}" for k, v in episode.metrics.items())
            table.add_row(name, str(episode.n_agents), f"{episode.task_completion:.3f}", metrics)
    console.print(table)
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    ev = sub.add_parser(
        "expert-eval",
        help="run an economy's expert policy and print its metrics",
        description="Run the expert (reference) policy of one economy over several seeds and "
        "print task completion and the economy's own metrics (mean ± sd over seeds).",
    )
    ev.add_argument("economy", help=f"one of: {', '.join(economy_names())}")
    ev.add_argument(
        "--preset",
        default="default",
        help="a named config preset of the economy, e.g. tuned-expert for the supply chain's "
        "tuned expert (default: %(default)s; `redteam list presets` lists them)",
    )
    ev.add_argument("--agents", type=int, default=None, help="agents (default: the economy's)")
    ev.add_argument(
        "--rounds",
        type=int,
        default=DEFAULT_ROUNDS,
        help="rounds per episode (default: %(default)s)",
    )
    ev.add_argument(
        "--seeds", type=int, default=3, help="episodes with seeds 0..S-1 (default: %(default)s)"
    )
    ev.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ev.add_argument(
        "--no-messages",
        action="store_true",
        help="also run with the message channel cut and report both side by side",
    )
    ev.set_defaults(handler=expert_eval)

    dm = sub.add_parser(
        "demo",
        help="one expert episode of every economy, as a table",
        description="Play one expert episode of every economy at its default size.",
    )
    dm.add_argument(
        "--rounds", type=int, default=DEFAULT_ROUNDS, help="rounds (default: %(default)s)"
    )
    dm.set_defaults(handler=demo)
