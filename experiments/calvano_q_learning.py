"""Calvano et al. (2020) reproduced: Q-learning pricing agents learn to collude on their own.

    python experiments/calvano_q_learning.py [--markets 100] [--seed 0] [--json-out PATH]
        [--figure experiments/figures/calvano_impulse_response.png]

Runs ``--markets`` logit duopolies with Calvano's settings (alpha 0.15, beta 4e-6, delta 0.95,
15 prices) until every greedy strategy has held for 100,000 periods, and the same with memoryless
learners (delta 0) as the hard negative. Prints the share of markets converged, the mean profit
gain Delta (0: Nash, 1: monopoly) and the impulse response to a one-period deviation (firm 0
undercuts to its static best response; the rival's price afterwards shows the punishment).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from forest.economy.q_learning import (
    QLearningConfig,
    converged_profit_gain,
    impulse_response,
    train,
)


def run(config: QLearningConfig, markets: int, seed: int) -> dict:
    began = time.perf_counter()
    learners, market = train(
        config, markets, seed,
        on_check=lambda period, done: print(
            f"\r  period {period:,}: {done}/{markets} converged", end="", file=sys.stderr
        ) if period % 100_000 == 0 else None,
    )  # fmt: skip
    print(file=sys.stderr)
    gain = converged_profit_gain(learners, market, config.points)
    response = market.prices[impulse_response(learners, market, config.points)]  # (T, M, k)
    return {
        "delta": config.delta,
        "markets": markets,
        "converged": int((learners.converged_at >= 0).sum()),
        "median_periods_to_converge": float(
            np.median(learners.converged_at[learners.converged_at >= 0])
        )
        if (learners.converged_at >= 0).any()
        else float("nan"),
        "profit_gain_mean": float(gain.mean()),
        "profit_gain_sd": float(gain.std()),
        "impulse_deviator": response[:, :, 0].mean(axis=1).tolist(),
        "impulse_rival": response[:, :, 1].mean(axis=1).tolist(),
        "seconds": time.perf_counter() - began,
    }


def figure(result: dict, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
    t = np.arange(len(result["impulse_rival"])) - 1
    ax.plot(t, result["impulse_deviator"], marker="o", label="firm 0 (forced to deviate at t=0)")
    ax.plot(t, result["impulse_rival"], marker="s", label="firm 1 (the rival)")
    ax.set_xlabel("period (t = -1: the learned cycle; t = 0: the deviation)")
    ax.set_ylabel(f"mean price over {result['markets']} markets")
    ax.set_title("Q-learning duopoly: punishment after a one-period deviation")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markets", type=int, default=100, help="markets (default: 100)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json-out", type=Path, help="write the results as JSON here")
    parser.add_argument("--figure", type=Path, help="draw the impulse response here")
    args = parser.parse_args(argv)
    base = QLearningConfig()
    results = []
    for config in (base, replace(base, delta=0.0)):
        print(f"delta {config.delta}:", file=sys.stderr)
        result = run(config, args.markets, args.seed)
        results.append(result)
        print(
            f"delta {config.delta}: {result['converged']}/{result['markets']} converged "
            f"(median {result['median_periods_to_converge']:,.0f} periods), profit gain Delta "
            f"{result['profit_gain_mean']:.3f} (sd {result['profit_gain_sd']:.3f}), "
            f"{result['seconds']:.0f} s"
        )
    rival = results[0]["impulse_rival"]
    print("impulse response, rival's mean price: " + " ".join(f"{p:.3f}" for p in rival))
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(results, indent=2))
    if args.figure is not None:
        figure(results[0], args.figure)
    return 0


if __name__ == "__main__":
    sys.exit(main())
