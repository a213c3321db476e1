"""The figures behind the shipped LoRA forests' test floors: a small episode, and untrained.

    python experiments/pretrained_small_episode.py [--checkpoint checkpoints/pretrained-lora]
        [--economy NAME]...

Plays the episode ``tests/forest/test_shipped_lora_checkpoint.py`` plays (seed 0, 40 agents, 10
rounds, the checkpoint's router) in every economy the checkpoint was adapted to, as its
training log records (checkpoints/pretrained-lora-supply-chain: the supply chain alone), or in
those named, with the checkpoint and with the same forest untrained (fresh forest weights, zero
adapters), and prints task completion and welfare (the supply chain's is minus its total cost
per agent-round). The test's floors are the trained figures less a margin that the untrained
ones fall below. About two minutes; needs ``make pretrained``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from forest.checkpoints import load_policy
from forest.economy import economy_names
from forest.errors import ForestError
from forest.evaluation import evaluate_forest
from forest.policy import ForestPolicy
from forest.pretrained.adaptation import AdaptConfig, adapted_forest
from forest.pretrained.language_model import DEFAULT_DIR


def adapted_economies(checkpoint: Path) -> tuple[str, ...]:
    """The economies an adapted checkpoint was fitted to, from its training log."""
    try:
        log = json.loads((checkpoint / "train_log.json").read_text())
        return AdaptConfig(**log["train_config"]).economies
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ForestError(
            f"{checkpoint}: no adapted forest's training log to read its economies from ({err}); "
            "name them with --economy"
        ) from err


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default="checkpoints/pretrained-lora")
    parser.add_argument("--language-model", default=str(DEFAULT_DIR))
    parser.add_argument("--economy", action="append", default=None, choices=economy_names())
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # as the test plays it: sums split by thread count
    try:
        economies = args.economy or adapted_economies(Path(args.checkpoint))
        shipped = load_policy(Path(args.checkpoint))
        untrained = ForestPolicy(
            adapted_forest(AdaptConfig(), Path(args.language_model)),
            shipped.tokenizer,
            shipped.router,
        )
        print("| economy | forest | completion | welfare |\n|---|---|---|---|")
        for name in economies:
            for label, policy in (("shipped", shipped), ("untrained", untrained)):
                episode = evaluate_forest(policy, name, seeds=1, rounds=10, n_agents=40)[0]
                print(
                    f"| {name} | {label} | {episode.task_completion:.3f} | "
                    f"{episode.metrics['welfare']:.3f} |"
                )
    except ForestError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
