"""Does the forest on SmolLM2 do its job? Completion and welfare against `small` and the expert.

    python experiments/pretrained_table.py [--checkpoint checkpoints/pretrained-lora]
        [--agents 260] [--rounds 40] [--seeds 3] [--first-seed 0] [--out results/pretrained_table]
        [--also checkpoints/pretrained] [--all-messages]

Every economy, seeds F..F+S-1 (F = ``--first-seed``), each played by the expert, the shipped
token forest (`small`, with its router) and the pretrained forest (with its own router;
``--all-messages`` adds it with every message delivered, ``--also`` adds other checkpoints, e.g. the
frozen-LM baseline). Each episode is a file under ``--out/episodes/`` written when it ends, so a
killed run resumes where it stopped. The table gives each policy's task completion and welfare
(the economy's own measure; in the supply chain, total cost = minus welfare) with their gap to
the expert on the same seed: a paired t interval over seeds, and the welfare gap as a share of
the expert's. The issue's bar (#26): completion within 5 points of the expert, welfare within
10%; "yes" when both intervals clear it, "no" when one lies wholly past it, "unclear" otherwise.

To choose among fits (several ``--seed`` of one adaptation, given with ``--also``) without
choosing on the seeds the table reports, play the candidates on other seeds first, e.g.
``--economy supply_chain --agents 60 --first-seed 100``, and report the chosen one on seeds
0..S-1. Seeds from 10,000 up are the fits' own training, labelling and calibration episodes,
so the table refuses them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import Progress

from forest.checkpoints import checkpoint_digest, load_policy
from forest.economy import economy_names, make_economy
from forest.economy.rollout import Episode, expert_policy, play
from forest.errors import ForestError
from forest.evaluation import forest_policy
from forest.training.behaviour_cloning import TRAIN_SEED_BASE
from redteam.intervals import PairedDifference, paired_t_interval, t_interval

COMPLETION_BAR = 0.05  # points of completion below the expert
WELFARE_BAR = 0.10  # share of the expert's welfare


def play_one(who: str, policy, name: str, seed: int, agents: int, rounds: int) -> dict:
    economy = make_economy(name, seed, n_agents=agents)
    if who == "expert":
        decide = expert_policy()
    else:
        decide = forest_policy(policy, use_router=not who.endswith("(all messages)"))
    started = time.perf_counter()
    episode: Episode = play(economy, decide, rounds)
    return {
        "task_completion": episode.task_completion,
        "welfare": episode.metrics["welfare"],
        "delivered_tokens": episode.delivered_tokens,
        "offered_tokens": episode.offered_tokens,
        "seconds": time.perf_counter() - started,
    }


def bar_verdict(completion_gap: PairedDifference, welfare_gap: PairedDifference) -> str:
    """ "yes" when both intervals lie above the bar (non-inferior), "no" when either lies wholly
    below it, "unclear" when an interval straddles it: with 3 seeds a mean alone decides
    nothing."""
    lows = (completion_gap.low + COMPLETION_BAR, welfare_gap.low + WELFARE_BAR)
    highs = (completion_gap.high + COMPLETION_BAR, welfare_gap.high + WELFARE_BAR)
    if any(h != h for h in highs):  # nan: one seed, or an undefined gap
        return "unclear"
    if min(highs) < 0:
        return "no"
    return "yes" if min(lows) >= 0 else "unclear"


def write_atomically(path: Path, text: str) -> None:
    """A killed run leaves the old file or the new one, never half of one."""
    partial = path.with_suffix(".partial")
    partial.write_text(text)
    os.replace(partial, path)


def gap_rows(name: str, results: dict, seeds: list[int]) -> list[dict]:
    expert = results["expert"]
    e_completion = np.array([expert[s]["task_completion"] for s in seeds])
    e_welfare = np.array([expert[s]["welfare"] for s in seeds])
    rows = []
    for who, per_seed in results.items():
        completion = np.array([per_seed[s]["task_completion"] for s in seeds])
        welfare = np.array([per_seed[s]["welfare"] for s in seeds])
        # Per seed, the welfare gap as a share of the expert's welfare on that seed (undefined,
        # nan, where the expert's is 0).
        with np.errstate(divide="ignore", invalid="ignore"):
            relative = np.where(e_welfare != 0, (welfare - e_welfare) / np.abs(e_welfare), np.nan)
        completion_gap = paired_t_interval(completion, e_completion)
        welfare_gap = t_interval(relative, method="paired t over seeds")
        offered = sum(per_seed[s]["offered_tokens"] for s in seeds)
        delivered = sum(per_seed[s]["delivered_tokens"] for s in seeds)
        rows.append(
            {
                "economy": name,
                "policy": who,
                "completion": t_interval(completion).__dict__,
                "completion_gap": completion_gap.__dict__,
                "welfare": t_interval(welfare).__dict__,
                "welfare_gap_share": welfare_gap.__dict__,
                "tokens_kept": delivered / offered if offered else 1.0,
                "within_bar": "" if who == "expert" else bar_verdict(completion_gap, welfare_gap),
                "seconds_per_episode": float(np.mean([per_seed[s]["seconds"] for s in seeds])),
            }
        )
    return rows


def fmt(d: dict, digits: int = 3, sign: bool = False) -> str:
    f = f"+.{digits}f" if sign else f".{digits}f"
    if d["low"] != d["low"]:  # nan: one seed
        return f"{d['mean']:{f}}"
    out = f"{d['mean']:{f}} [{d['low']:{f}}, {d['high']:{f}}]"
    significant = d["low"] > 0 or d["high"] < 0
    return out if (significant or not sign) else out + " ns"


def seed_range(args: argparse.Namespace) -> str:
    last = args.first_seed + args.seeds - 1
    return f"seed {last}" if args.seeds == 1 else f"seeds {args.first_seed}-{last}"


def markdown(rows: list[dict], args: argparse.Namespace) -> str:
    lines = [
        f"{args.agents} agents, {args.rounds} rounds, {seed_range(args)}; 95% t intervals "
        "over seeds; gaps are paired with the expert's episode on the same seed "
        "(ns: the interval holds 0). Welfare is the economy's own measure; in the supply chain "
        "it is minus the total cost per agent-round.",
        "",
        "| economy | policy | completion | gap to expert | welfare | welfare gap (share of "
        "expert's) | tokens kept | within 5 pts and 10% (intervals) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        expert = r["policy"] == "expert"
        lines.append(
            f"| {r['economy']} | {r['policy']} | {fmt(r['completion'])} | "
            f"{'' if expert else fmt(r['completion_gap'], sign=True)} | "
            f"{fmt(r['welfare'])} | {'' if expert else fmt(r['welfare_gap_share'], sign=True)} | "
            f"{r['tokens_kept']:.0%} | {r['within_bar']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default="checkpoints/pretrained-lora")
    parser.add_argument("--small", default="checkpoints/small")
    parser.add_argument("--also", action="append", default=[], help="another checkpoint")
    parser.add_argument("--all-messages", action="store_true")
    parser.add_argument("--agents", type=int, default=260)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--seeds", type=int, default=3, help="how many seeds (default 3)")
    parser.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help=f"the first seed played (default 0; below {TRAIN_SEED_BASE:,}, where the fits' "
        "own training episodes start)",
    )
    parser.add_argument("--economy", action="append", default=None, choices=economy_names())
    parser.add_argument("--out", default="results/pretrained_table")
    args = parser.parse_args(argv)
    console = Console()
    named = [("small", args.small), (Path(args.checkpoint).name, args.checkpoint)]
    named += [(Path(extra).name, extra) for extra in args.also]
    checkpoints = dict(named)
    try:
        if args.seeds < 1:
            raise ForestError(f"--seeds must be at least 1, got {args.seeds}")
        if not 0 <= args.first_seed <= TRAIN_SEED_BASE - args.seeds:
            raise ForestError(
                f"--first-seed must be at least 0 and its {args.seeds} seeds below "
                f"{TRAIN_SEED_BASE:,} (the fits' own training episodes), got {args.first_seed}"
            )
        clashes = sorted(
            {f"{path} and {checkpoints[who]}" for who, path in named
             if Path(path).resolve() != Path(checkpoints[who]).resolve()}
        )  # fmt: skip
        if clashes:
            raise ForestError(
                f"checkpoints share a folder name, which names them in the table: {clashes[0]}"
            )
        for name in args.economy or economy_names():
            make_economy(name, 0, n_agents=args.agents)
        loaded = {who: load_policy(Path(path)) for who, path in checkpoints.items()}
    except (ForestError, ValueError) as err:
        console.print(f"[red]error:[/red] {err}")
        return 2
    # who -> (policy, a digest naming its weights in the episode files: a retrained checkpoint
    # never reads the old one's episodes)
    policies = {"expert": (None, "expert")}
    for who, path in checkpoints.items():
        policies[who] = (loaded[who], checkpoint_digest(Path(path))[:12])
        if args.all_messages and path == args.checkpoint:
            policies[f"{who} (all messages)"] = policies[who]
    out = Path(args.out)
    (out / "episodes").mkdir(parents=True, exist_ok=True)
    names = args.economy or economy_names()
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    rows = []
    with Progress(console=console) as progress:
        task = progress.add_task("episodes", total=len(names) * len(policies) * args.seeds)
        for name in names:
            results: dict[str, dict[int, dict]] = {}
            for who, (policy, digest) in policies.items():
                results[who] = {}
                for seed in seeds:
                    key = f"{name}-{who}-{digest}-{args.agents}x{args.rounds}-seed{seed}"
                    key = key.replace(" ", "_").replace("(", "").replace(")", "")
                    path = out / "episodes" / f"{key}.json"
                    if not path.is_file():
                        figures = play_one(who, policy, name, seed, args.agents, args.rounds)
                        write_atomically(path, json.dumps(figures))
                    results[who][seed] = json.loads(path.read_text())
                    progress.advance(task)
            rows += gap_rows(name, results, seeds)
    (out / "table.json").write_text(json.dumps({"settings": vars(args), "rows": rows}, indent=1))
    text = markdown(rows, args)
    (out / "table.md").write_text(text)
    console.print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
