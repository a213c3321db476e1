"""Tune the supply chain's expert per echelon for task completion (issue #4's teacher for large).

    python experiments/tune_supply_chain_expert.py [--agents 300] [--rounds 40] [--seeds 3]
        [--held-out 10] [--maxiter 25] [--popsize 8] [--holding-weight 0.0005]
        [--out results/tune_supply_chain_expert]

The plain expert orders up to forecast * (lead + 1) * (1 + safety share) and completes 0.93 of
its supply-chain tasks: after the demand step its suppliers and warehouses chase the bullwhip.
This searches, per echelon (supplier, warehouse, retailer), its safety share, the share of the
gap to the order-up-to level it orders each round (``stock_correction``) and the weight of demand
seen above the forecast (``trend_weight``), with scipy's differential evolution. The objective is
the mean task completion over seeds 0..S-1 minus ``holding-weight`` times the holding cost per
agent-round, so stock is not free. The best parameters are then scored on seeds the search never
saw (1000..). Writes ``tune.json``; the ``tuned-expert`` preset of ``SupplyChainConfig`` holds
the rounded result of the default run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import differential_evolution

from forest.economy import make_economy
from forest.economy.rollout import expert_policy, play
from forest.economy.supply_chain_config import SupplyChainConfig
from forest.errors import ForestError
from forest.validation import require_float, require_int

HELD_OUT_SEED = 1000
# Per echelon: (safety share, stock correction, trend weight).
BOUNDS = [(0.5, 3.0), (0.1, 1.0), (0.0, 1.5)] * 3
# What a preset holds: safety shares to 0.1, the two weights to 0.05.
GRID = np.array([0.1, 0.05, 0.05] * 3)


def expert_fields(params: np.ndarray) -> dict:
    """SupplyChainConfig fields of a parameter vector (echelon-major)."""
    p = np.asarray(params, dtype=np.float64).reshape(3, 3)
    return {
        "echelon_safety_shares": tuple(float(x) for x in p[:, 0]),
        "stock_correction": tuple(float(x) for x in p[:, 1]),
        "trend_weight": tuple(float(x) for x in p[:, 2]),
    }


def score(fields: dict, agents: int, rounds: int, seeds: range) -> dict[str, float]:
    """The expert's mean task completion and holding cost with ``fields``, over ``seeds``."""
    config = SupplyChainConfig(n_agents=agents, **fields)
    episodes = [
        play(make_economy("supply_chain", seed, config=config), expert_policy(), rounds)
        for seed in seeds
    ]
    return {
        "task_completion": float(np.mean([e.task_completion for e in episodes])),
        "holding_cost": float(np.mean([e.metrics["holding_cost"] for e in episodes])),
    }


def tune(
    agents: int, rounds: int, seeds: int, maxiter: int, popsize: int, holding_weight: float
) -> np.ndarray:
    """The parameter vector that maximises completion - holding_weight * holding cost."""

    def loss(params: np.ndarray) -> float:
        figures = score(expert_fields(params), agents, rounds, range(seeds))
        return -(figures["task_completion"] - holding_weight * figures["holding_cost"])

    result = differential_evolution(
        loss, BOUNDS, maxiter=maxiter, popsize=popsize, seed=0, polish=False, tol=1e-6
    )
    return result.x


def report(args: argparse.Namespace) -> dict:
    best = tune(
        args.agents, args.rounds, args.seeds, args.maxiter, args.popsize, args.holding_weight
    )
    tuned = expert_fields(best)
    rounded = expert_fields(np.round(np.round(best / GRID) * GRID, 2))
    held_out = range(HELD_OUT_SEED, HELD_OUT_SEED + args.held_out)
    rows = {}
    for name, fields in (("plain expert", {}), ("tuned", tuned), ("tuned, rounded", rounded)):
        rows[name] = {
            "fields": fields,
            "search seeds": score(fields, args.agents, args.rounds, range(args.seeds)),
            "held-out seeds": score(fields, args.agents, args.rounds, held_out),
        }
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--seeds", type=int, default=3, help="search seeds 0..S-1")
    parser.add_argument("--held-out", type=int, default=10, help="held-out seeds 1000..")
    parser.add_argument("--maxiter", type=int, default=25, help="differential-evolution rounds")
    parser.add_argument("--popsize", type=int, default=8, help="population per parameter")
    parser.add_argument("--holding-weight", type=float, default=0.0005)
    parser.add_argument("--out", default="results/tune_supply_chain_expert")
    args = parser.parse_args(argv)
    try:
        require_int(args.agents, "agents", 3, 100_000)
        require_int(args.rounds, "rounds", 1, 10_000)
        require_int(args.seeds, "seeds", 1, 1000)
        require_int(args.held_out, "held-out", 1, 1000)
        require_int(args.maxiter, "maxiter", 1, 10_000)
        require_int(args.popsize, "popsize", 1, 1000)
        require_float(args.holding_weight, "holding-weight", 0.0, 1.0)
    except ForestError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    rows = report(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "tune.json").write_text(json.dumps(rows, indent=2))
    for name, row in rows.items():
        search, held = row["search seeds"], row["held-out seeds"]
        print(
            f"{name:15s} completion {search['task_completion']:.3f} (held-out "
            f"{held['task_completion']:.3f}), holding {search['holding_cost']:.1f} "
            f"(held-out {held['holding_cost']:.1f})  {row['fields']}"
        )
    print(f"wrote {out / 'tune.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
