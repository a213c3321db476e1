"""Round latency and FLOPs of ForestModel vs DenseForest on this machine.

Reproduces the forest-model numbers: median (and min) forward latency in inference mode after
warm-up at several agent counts, the saturation ratios t(5k)/t(1k) and t(10k)/t(1k), and
the compressed-vs-dense cost cut in FLOPs and wall time at the same agent count. On a shared
machine, other processes inflate the medians; the minimum shows the uncontended cost.

    .venv/bin/python experiments/bench_forest_model.py [--preset small] [--reps 7]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from forest.model.config import ForestConfig
from forest.model.dense import DenseForest
from forest.model.flops import dense_flops, forest_flops
from forest.model.modeling_forest import ForestModel, ForestPreTrainedModel

AGENTS_PER_TREE = 50


def round_inputs(config: ForestConfig, n: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """A synthetic round: random tokens with some padding, roles, trees and memories."""
    g = torch.Generator().manual_seed(seed)
    t = config.max_agent_tokens
    lengths = torch.randint(t // 2, t + 1, (n, 1), generator=g)
    return {
        "input_ids": torch.randint(0, config.vocab_size, (n, t), generator=g),
        "attention_mask": torch.arange(t).unsqueeze(0) < lengths,
        "role_ids": torch.randint(0, config.num_roles, (n,), generator=g),
        "tree_ids": torch.arange(n) // AGENTS_PER_TREE,
        "memory": torch.randn(n, config.hidden_size, generator=g),
    }


def latency_ms(
    model: ForestPreTrainedModel, agents: list[int], reps: int, warmup: int = 2
) -> dict[int, list[float]]:
    """Sorted forward latencies in ms per agent count.

    Sizes are timed round-robin, so that a slow spell on a shared machine lands on every size
    alike instead of skewing the ratios between them.
    """
    batches = {n: round_inputs(model.config, n) for n in agents}
    times: dict[int, list[float]] = {n: [] for n in agents}
    with torch.inference_mode():
        for batch in batches.values():
            for _ in range(warmup):
                model(**batch)
        for _ in range(reps):
            for n, batch in batches.items():
                start = time.perf_counter()
                model(**batch)
                times[n].append(1000 * (time.perf_counter() - start))
    return {n: sorted(t) for n, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--agents", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--dense-agents", type=int, nargs="+", default=[100, 300, 1000])
    args = parser.parse_args()

    torch.manual_seed(0)
    config = ForestConfig.preset(args.preset)
    forest = ForestModel(config).eval()
    dense = DenseForest(config).eval()
    print(f"preset {args.preset}, torch threads {torch.get_num_threads()}, reps {args.reps}")

    forest_ms: dict[int, float] = {}
    for n, times in latency_ms(forest, args.agents, args.reps).items():
        forest_ms[n] = statistics.median(times)
        gflops = forest_flops(config, n, n_trees=-(-n // AGENTS_PER_TREE)).total / 1e9
        print(
            f"ForestModel {n:>7} agents: median {forest_ms[n]:8.1f} ms (min {times[0]:8.1f})"
            f"  {gflops:8.1f} GFLOP"
        )
    base = min(forest_ms)
    for n in forest_ms:
        if n != base:
            print(f"  t({n})/t({base}) = {forest_ms[n] / forest_ms[base]:.2f}")

    dense_reps = max(3, args.reps // 2)
    for n, times in latency_ms(dense, args.dense_agents, dense_reps, warmup=1).items():
        ms = statistics.median(times)
        dense_gflops = dense_flops(config, n).total / 1e9
        forest_gflops = forest_flops(config, n, n_trees=-(-n // AGENTS_PER_TREE)).total / 1e9
        line = f"DenseForest {n:>7} agents: median {ms:8.1f} ms (min {times[0]:8.1f})"
        line += (
            f"  {dense_gflops:8.1f} GFLOP; forest cheaper by {1 - forest_gflops / dense_gflops:.0%}"
        )
        if n in forest_ms:
            line += f" in FLOPs, {1 - forest_ms[n] / ms:.0%} in wall time"
        print(line)


if __name__ == "__main__":
    main()
