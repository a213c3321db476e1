"""``forest profit-finetune``: a pricing forest's firms learn their own profit, in a seating."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console

from forest.commands.common import prepare_output, progress_bar
from forest.seating import SEATINGS
from forest.training.profit_seeking import REWARDS, ProfitConfig, finetune_for_profit

OVERRIDES = ("seating", "reward", "iterations", "markets", "learning_rate", "entropy_weight",
             "seed", "threads")  # fmt: skip


def profit_finetune(args: argparse.Namespace, console: Console) -> int:
    overrides = {f: getattr(args, f) for f in OVERRIDES if getattr(args, f) is not None}
    config = ProfitConfig.preset(args.preset, **overrides)
    out = Path(args.out)
    if not prepare_output(out, args.force, console):
        return 2
    started = time.perf_counter()
    with progress_bar(console) as progress:
        task = progress.add_task(f"{config.seating} seating, {config.reward} profit",
                                 total=config.iterations)  # fmt: skip

        def on_iteration(row: dict[str, float]) -> None:
            progress.update(task, completed=row["iteration"] + 1)
            console.log(
                f"iteration {row['iteration'] + 1}: price level {row['price_level']:+.3f} "
                f"(0 Nash, 1 monopoly), profit gain {row['profit_gain']:+.3f}, entropy "
                f"{row['entropy']:.2f} (prices sampled)"
            )

        _, log = finetune_for_profit(config, Path(args.source), out, on_iteration=on_iteration)
    console.print(
        f"fine-tuned in {(time.perf_counter() - started) / 60:.1f} min: {len(log)} iterations; "
        f"saved to {out}/ (seating.json, firm-*/, train_log.json). Measure it as a scenario of "
        'the collusion benchmark (kind = "profit-forest"), or with '
        "experiments/forest_collusion.py"
    )
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    defaults = ProfitConfig()
    parser = sub.add_parser(
        "profit-finetune",
        help="fine-tune a pricing forest on each firm's own profit (does it learn to collude?)",
        description="Plays Calvano's duopolies with the forest, sampling every firm's price, "
        "and reinforces each price by the firm's own discounted profit over the following "
        "rounds (PPO's clipped surrogate, an entropy bonus, the encoder frozen). The seating "
        "says what rivals share: the latent (shared: one forward, a market is a tree), only "
        "the weights (masked: each seat decided in a forward of its own), or nothing "
        "(independent: a model per seat). --reward joint pays every firm its market's mean "
        "profit instead: a cartel's objective, the oracle. Checkpoints after every "
        "iteration: rerunning the same command resumes a killed run.",
    )
    parser.add_argument("source", help="a trained token-forest checkpoint (checkpoints/small)")
    parser.add_argument("--out", required=True, help="folder for the fine-tuned firms")
    parser.add_argument("--preset", default="default", choices=sorted(ProfitConfig.presets),
                        help="default, or tiny for a seconds-long smoke run "
                        "(default: %(default)s)")  # fmt: skip
    parser.add_argument("--seating", default=None, choices=SEATINGS,
                        help=f"(default: {defaults.seating})")  # fmt: skip
    parser.add_argument("--reward", default=None, choices=REWARDS,
                        help=f"whose profit pays a firm (default: {defaults.reward})")  # fmt: skip
    parser.add_argument("--iterations", type=int, default=None,
                        help=f"(default: {defaults.iterations})")  # fmt: skip
    parser.add_argument("--markets", type=int, default=None,
                        help=f"duopolies per episode (default: {defaults.markets})")  # fmt: skip
    parser.add_argument("--learning-rate", type=float, default=None,
                        help=f"AdamW's rate (default: {defaults.learning_rate})")  # fmt: skip
    parser.add_argument("--entropy-weight", type=float, default=None,
                        help="weight of the price softmax's entropy: keeps the firms exploring "
                        f"(default: {defaults.entropy_weight})")  # fmt: skip
    parser.add_argument("--seed", type=int, default=None, help=f"(default: {defaults.seed})")
    parser.add_argument("--threads", type=int, default=None,
                        help=f"torch threads (default: {defaults.threads}); the same count "
                        "reproduces the same weights bit for bit")  # fmt: skip
    parser.add_argument("--force", action="store_true", help="fine-tune a finished folder again")
    parser.set_defaults(handler=profit_finetune)
