"""How much faster the compiled Q-learning backend is than the numpy reference, side by side.

    python experiments/q_learning_bench.py [--markets 100] [--periods 50000] [--repeats 5]

Trains the same markets from the same seed with ``backend="numpy"`` and ``backend="numba"``,
alternating the two so that a busy machine slows both alike, and prints the median time per
period per market of each and their ratio. Calvano's duopoly, except that exploration decays
from 1 to exp(-5) within the window, as it does over a whole training run, so that exploring and
greedy periods are both timed. Checks that both backends learned the same Q-tables.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

from forest.economy.q_learning import QLearningConfig, train

BACKENDS = ("numpy", "numba")


def bench(markets: int, periods: int, repeats: int, seed: int) -> dict[str, float]:
    """Median seconds per period per market of each backend."""
    config = QLearningConfig(
        beta=5.0 / periods, max_periods=periods, check_every=1_000, stable_periods=100_000_000
    )
    train(QLearningConfig(max_periods=10), 1, seed)  # numba compiles (or loads its cache) here
    seconds: dict[str, list[float]] = {backend: [] for backend in BACKENDS}
    tables = {}
    for _ in range(repeats):
        for backend in BACKENDS:
            began = time.perf_counter()
            learners, _ = train(config, markets, seed, backend=backend)
            seconds[backend].append(time.perf_counter() - began)
            tables[backend] = learners.q
    if not np.array_equal(tables["numpy"], tables["numba"]):
        raise AssertionError("the backends learned different Q-tables")
    return {backend: statistics.median(s) / (periods * markets) for backend, s in seconds.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markets", type=int, nargs="+", default=[100],
                        help="markets trained at once; several sizes run one after another "
                        "(default: 100)")  # fmt: skip
    parser.add_argument("--periods", type=int, default=50_000, help="periods (default: 50,000)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per backend (default: 5)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for markets in args.markets:
        per_market = bench(markets, args.periods, args.repeats, args.seed)
        numpy_ns, numba_ns = per_market["numpy"] * 1e9, per_market["numba"] * 1e9
        print(
            f"{markets} markets x {args.periods:,} periods, median of {args.repeats}: "
            f"numpy {numpy_ns:,.0f} ns, numba {numba_ns:,.0f} ns per period per market; "
            f"numba {numpy_ns / numba_ns:.1f}x faster, identical Q-tables"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
