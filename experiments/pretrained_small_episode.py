"""The figures behind the shipped LoRA forest's test floors: its small episode, and untrained.

    python experiments/pretrained_small_episode.py [--checkpoint checkpoints/pretrained-lora]
        [--economy NAME ...]

Plays the episode ``tests/forest/test_shipped_lora_checkpoint.py`` plays (seed 0, 40 agents, 10
rounds, the checkpoint's router) in every economy, or in those named (the forest adapted to the
supply chain alone, checkpoints/pretrained-lora-supply-chain, plays only there), with the
checkpoint and with the same forest untrained (fresh forest weights, zero adapters), and prints
task completion and welfare (the supply chain's is minus its total cost per agent-round). The
test's floors are the trained figures less a margin that the untrained ones fall below. About
two minutes; needs ``make pretrained``.
"""

from __future__ import annotations

import argparse
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default="checkpoints/pretrained-lora")
    parser.add_argument("--language-model", default=str(DEFAULT_DIR))
    parser.add_argument("--economy", action="append", default=None, choices=economy_names())
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # as the test plays it: sums split by thread count
    try:
        shipped = load_policy(Path(args.checkpoint))
        untrained = ForestPolicy(
            adapted_forest(AdaptConfig(), Path(args.language_model)),
            shipped.tokenizer,
            shipped.router,
        )
        print("| economy | forest | completion | welfare |\n|---|---|---|---|")
        for name in args.economy or economy_names():
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
