"""Where a policy loses supply-chain task completion: by echelon and by stretch of the episode.

    python experiments/supply_chain_gap.py [CHECKPOINT ...] [--agents 300] [--rounds 40]
        [--seeds 2] [--safety-shares 1.25,1.75,2.25,3.0] [--out results/supply_chain_gap]

A supply-chain agent completes its task in a round when it ends the round without backlog.
For the expert and every checkpoint given (greedy actions, with the checkpoint's router) this
prints the share of agent-rounds without backlog per echelon, per block of five rounds (the
demand doubles at round 5), and the expert's task completion, fill rate and holding cost at
other safety stocks. That is how issue #4's gap was read: the expert, and a forest that clones
it, lose their completion at the suppliers and warehouses in the ten rounds after the demand
step, and more safety stock buys fill rate, not completion. Writes ``gap.json`` and ``gap.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from forest.checkpoints import load_policy
from forest.economy import make_economy
from forest.economy.supply_chain import ECHELONS
from forest.errors import ForestError
from forest.policy import ForestPolicy
from forest.validation import require_float, require_int

BLOCK = 5  # rounds per block: the demand step comes at the end of the first


def completion_by_echelon(
    decide, agents: int, rounds: int, seeds: int, safety_share: float | None = None
) -> dict:
    """Per echelon: overall share of agent-rounds without backlog and its mean per block of
    rounds; plus the episodes' task completion, fill rate and holding cost."""
    overrides = {"n_agents": agents}
    if safety_share is not None:
        overrides["safety_share"] = safety_share
    flags, echelons, metrics = [], [], []
    for seed in range(seeds):
        economy = make_economy("supply_chain", seed, **overrides)
        step = decide()
        per_round = []
        for _ in range(rounds):
            actions, messages = step(economy)
            per_round.append(economy.step(actions, messages).task_completed)
        flags.append(np.asarray(per_round, dtype=np.float64))
        echelons.append(economy.echelon.copy())
        metrics.append(economy.episode_metrics())
    blocks = -(-rounds // BLOCK)
    by_echelon = {}
    for index, name in enumerate(ECHELONS):
        own = [f[:, e == index] for f, e in zip(flags, echelons, strict=True)]
        joined = np.concatenate(own, axis=1)
        by_block = [float(joined[b * BLOCK : (b + 1) * BLOCK].mean()) for b in range(blocks)]
        by_echelon[name] = {"completion": float(joined.mean()), "by_block": by_block}
    return {
        "task_completion": float(np.mean([f.mean() for f in flags])),
        "fill_rate": float(np.mean([m["fill_rate"] for m in metrics])),
        "holding_cost": float(np.mean([m["holding_cost"] for m in metrics])),
        "by_echelon": by_echelon,
    }


def expert():
    def step(economy):
        return economy.expert()

    return step


def forest(policy: ForestPolicy):
    def fresh():
        episode = ForestPolicy(policy.model, policy.tokenizer, policy.router)

        def step(economy):
            decision = episode.act(economy)
            return decision.actions, decision.messages

        return step

    return fresh


def markdown(report: dict) -> str:
    lines = ["# Supply-chain task completion by echelon and block of rounds", ""]
    blocks = len(next(iter(report["policies"].values()))["by_echelon"]["supplier"]["by_block"])
    header = " | ".join(f"rounds {b * BLOCK}-{b * BLOCK + BLOCK - 1}" for b in range(blocks))
    lines += [f"| policy | echelon | overall | {header} |", "|---" * (blocks + 3) + "|"]
    for name, row in report["policies"].items():
        for echelon, cells in row["by_echelon"].items():
            shown = " | ".join(f"{v:.3f}" for v in cells["by_block"])
            lines.append(f"| {name} | {echelon} | {cells['completion']:.3f} | {shown} |")
    lines += [
        "",
        "| policy | task completion | fill rate | holding cost |",
        "|---|---|---|---|",
    ]
    for name, row in {**report["policies"], **report["expert_safety"]}.items():
        lines.append(
            f"| {name} | {row['task_completion']:.3f} | {row['fill_rate']:.3f} | "
            f"{row['holding_cost']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Supply-chain task completion of the expert and forest checkpoints, per "
        "echelon and block of five rounds, and the expert at other safety stocks."
    )
    parser.add_argument("checkpoints", nargs="*", help="forest checkpoints to compare")
    parser.add_argument("--agents", type=int, default=300, help="(default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=40, help="(default: %(default)s)")
    parser.add_argument("--seeds", type=int, default=2, help="seeds 0..S-1 (default: %(default)s)")
    parser.add_argument(
        "--safety-shares",
        default="1.25,1.75,2.25,3.0",
        help="expert safety stocks to sweep, comma-separated (default: %(default)s)",
    )
    parser.add_argument("--threads", type=int, default=2, help="(default: %(default)s)")
    parser.add_argument("--out", default="results/supply_chain_gap", help="(default: %(default)s)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        require_int(args.agents, "agents", 3, 1_000_000)
        require_int(args.rounds, "rounds", 1, 10_000)
        require_int(args.seeds, "seeds", 1, 1000)
        try:
            shares = [float(s) for s in args.safety_shares.split(",") if s.strip()]
        except ValueError:
            print(f"--safety-shares: expected numbers, got {args.safety_shares!r}", file=sys.stderr)
            return 2
        for share in shares:
            require_float(share, "safety_share", 0.0, 10.0)
        torch.set_num_threads(args.threads)
        run = (args.agents, args.rounds, args.seeds)
        policies = {"expert": completion_by_echelon(expert, *run)}
        for path in args.checkpoints:
            policies[path] = completion_by_echelon(forest(load_policy(Path(path))), *run)
        sweep = {
            f"expert, safety share {share}": completion_by_echelon(expert, *run, share)
            for share in shares
        }
    except ForestError as err:
        print(f"supply_chain_gap: error: {err}", file=sys.stderr)
        return 2
    report = {"agents": args.agents, "rounds": args.rounds, "seeds": args.seeds}
    report |= {"policies": policies, "expert_safety": sweep}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gap.json").write_text(json.dumps(report, indent=2))
    text = markdown(report)
    (out / "gap.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
