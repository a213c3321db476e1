"""``forest finetune``: a cloned forest learns from its own episodes what completes tasks."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console

from forest.commands.common import prepare_output, progress_bar
from forest.economy import economy_names
from forest.training.task_reward import FINETUNE_CURVE, finetune_forest
from forest.training.task_reward_config import TaskRewardConfig


def finetune(args: argparse.Namespace, console: Console) -> int:
    overrides = {
        field: getattr(args, field)
        for field in ("economy", "iterations", "learning_rate", "discount", "seed", "threads")
        if getattr(args, field) is not None
    }
    config = TaskRewardConfig.preset(args.preset, **overrides)
    out = Path(args.out)
    if not prepare_output(out, args.force, console):
        return 2
    started = time.perf_counter()
    with progress_bar(console) as progress:
        task = progress.add_task(f"fine-tuning on {config.economy}", total=config.iterations)
        progress.update(task, completed=0)

        def on_iteration(row: dict[str, float]) -> None:
            progress.update(task, completed=row["iteration"] + 1)
            console.log(
                f"iteration {row['iteration'] + 1}: task completion "
                f"{row['task_completion']:.3f} (actions sampled), "
                f"clipped {row['clipped_share']:.0%}"
            )

        _, log = finetune_forest(config, Path(args.source), out, on_iteration=on_iteration)
    console.print(
        f"fine-tuned in {(time.perf_counter() - started) / 60:.1f} min: {len(log)} iterations; "
        f"saved to {out}/ (model.safetensors, tokenizer.json, router.safetensors, "
        f"{FINETUNE_CURVE}, train_log.json). Measure it with: forest eval {out}"
    )
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    defaults = TaskRewardConfig()
    parser = sub.add_parser(
        "finetune",
        help="fine-tune a trained forest on an economy's own task reward (PPO-clipped)",
        description="Behaviour cloning cannot take a forest above its expert. This plays the "
        "economy with the forest itself, sampling its actions, and reinforces each action by "
        "the discounted task completion of the agent's tree (market, or supplier with its "
        "warehouses and retailers) over the following rounds, against its role's mean (PPO's "
        "clipped surrogate, whole-episode batches). Messages keep imitating the expert, and "
        "the other economies' experts are imitated alongside. Checkpoints after every "
        "iteration: rerunning the same command resumes a killed run.",
    )
    parser.add_argument("source", help="a trained token-forest checkpoint (e.g. checkpoints/large)")
    parser.add_argument("--out", required=True, help="folder for the fine-tuned checkpoint")
    parser.add_argument(
        "--preset",
        default="default",
        choices=sorted(TaskRewardConfig.presets),
        help="default, or tiny for a seconds-long smoke run (default: %(default)s)",
    )
    parser.add_argument(
        "--economy",
        default=None,
        choices=economy_names(),
        help=f"the economy whose task flags reward (default: {defaults.economy})",
    )
    parser.add_argument(
        "--iterations", type=int, default=None, help=f"(default: {defaults.iterations})"
    )
    parser.add_argument(
        "--learning-rate",
        type=float,
        default=None,
        help=f"AdamW's rate (default: {defaults.learning_rate})",
    )
    parser.add_argument(
        "--discount",
        type=float,
        default=None,
        help="weight per round of later task completion in an action's return; nearer 1 "
        "credits orders whose effect arrives many rounds later, as in the supply chain's "
        f"bullwhip (default: {defaults.discount})",
    )
    parser.add_argument("--seed", type=int, default=None, help=f"(default: {defaults.seed})")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help=f"torch threads (default: {defaults.threads}); the same count reproduces the same "
        "weights bit for bit",
    )
    parser.add_argument("--force", action="store_true", help="fine-tune a finished folder again")
    parser.set_defaults(handler=finetune)
