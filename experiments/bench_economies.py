"""Median round time of every economy at 1k .. 1M agents (expert policy + step, then observe).

    python experiments/bench_economies.py [--agents 1000,10000,100000,1000000] [--rounds 7] [--json]

A round here is what the harness does each round: the expert chooses actions and messages, the
economy steps (validating both), and every agent's observation is built. Times are medians over
``--rounds`` rounds after one warm-up round, each component timed on its own.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from rich.console import Console
from rich.table import Table

from forest.economy import economy_names, make_economy


def time_rounds(name: str, n_agents: int, rounds: int) -> dict[str, float]:
    economy = make_economy(name, seed=0, n_agents=n_agents)
    times: dict[str, list[float]] = {"expert": [], "step": [], "observe": []}
    for r in range(rounds + 1):
        t0 = time.perf_counter()
        actions, messages = economy.expert()
        t1 = time.perf_counter()
        economy.step(actions, messages)
        t2 = time.perf_counter()
        economy.observe()
        t3 = time.perf_counter()
        if r:  # the first round warms caches and allocators
            times["expert"].append(t1 - t0)
            times["step"].append(t2 - t1)
            times["observe"].append(t3 - t2)
    medians = {k: float(np.median(v)) * 1e3 for k, v in times.items()}
    medians["expert+step"] = medians["expert"] + medians["step"]
    medians["round"] = medians["expert+step"] + medians["observe"]
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--agents", default="1000,10000,100000,1000000")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.agents.split(",")]
    rows = []
    for name in economy_names():
        for n in sizes:
            rounds = args.rounds if n < 1_000_000 else 3
            rows.append({"economy": name, "agents": n, **time_rounds(name, n, rounds)})
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    table = Table(title="economy round time, median ms (this machine)")
    for column in ("economy", "agents", "expert", "step", "expert+step", "observe", "round"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(
            row["economy"],
            f"{row['agents']:,}",
            *(f"{row[k]:.1f}" for k in ("expert", "step", "expert+step", "observe", "round")),
        )
    Console().print(table)


if __name__ == "__main__":
    main()
