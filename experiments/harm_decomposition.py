"""Where PGD's harm comes from, in one round: the compromised agents' own decisions, or the
honest agents they mislead through the latent? Per forest, pooling and mask.

    python experiments/harm_decomposition.py --checkpoints checkpoints/small checkpoints/large \\
        checkpoints/large-robust --agents 200 --share 0.1 --seeds 0 1 2 3 4

plays a supply chain clean for ``--warmup`` rounds with each forest, then lets ``--share`` of
the agents (drawn per seed) run the escalation suite's attack on the next round: PGD on the
economy's welfare surrogate, shown the deployed pooling and masks (the adaptive view), at the
suite's budget. The round's welfare loss (the surrogate, per agent) is split three ways:

- total: every agent decides from the attacked latent;
- direct: only the compromised agents' decisions are the attacked ones (the honest keep theirs);
- through honest agents: only the honest agents' decisions are the attacked ones;

and the share of honest decisions the attack changed is given beside it. Deployments: plain
pooling; the trimmed mean (what escalation runs); the trimmed mean with the compromised agents
masked (a detector that catches all of them, as the Mahalanobis screen does PGD's). Each figure
is the mean over seeds with a t interval. A defense on the latent (pooling, masks, a robust
model) can only reach the harm through honest agents.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from attacks.base import AttackView
from attacks.latent import PGDParams, latent_round, logits_with_delta, pgd
from attacks.objectives import OBJECTIVES
from defenses.escalation import LargeModelGuard
from forest.checkpoints import load_policy
from forest.errors import ForestError
from forest.interventions import Interventions
from forest.model.robust_aggregation import RobustAggregation
from redteam.episodes import build_economy, fresh_policy
from redteam.intervals import t_interval

ATTACK = PGDParams(objective="harm", epsilon=1.0, steps=80, step_size=0.1)
DEPLOYMENTS = ("plain", "trimmed mean", "trimmed mean, masked")
FIGURES = ("total", "direct", "through honest", "honest changed")


def _guard(deployment: str, compromised: np.ndarray, n: int) -> LargeModelGuard:
    pooling = None if deployment == "plain" else RobustAggregation(method="trimmed-mean")
    masked = np.zeros(n, dtype=bool)
    masked[compromised] = deployment.endswith("masked")
    return LargeModelGuard(pooling, lambda: masked if masked.any() else None)


@torch.no_grad()
def _decompose(view: AttackView, lr, delta: torch.Tensor) -> dict[str, float]:
    """The round's welfare loss per agent: total, direct and through honest agents, and the
    share of honest decisions changed."""
    attacked = F.softmax(logits_with_delta(view, lr, delta), dim=1).nan_to_num(0.0)
    clean = F.softmax(lr.clean_logits, dim=1).nan_to_num(0.0)
    bad = (~lr.honest)[:, None]
    base = float(lr.welfare(clean))
    n = clean.shape[0]

    def lost(probs: torch.Tensor) -> float:
        return (base - float(lr.welfare(probs))) / n

    changed = attacked.argmax(1) != clean.argmax(1)
    return {
        "total": lost(attacked),
        "direct": lost(torch.where(bad, attacked, clean)),
        "through honest": lost(torch.where(bad, clean, attacked)),
        "honest changed": float(changed[lr.honest].float().mean()),
    }


def one_round(policy, agents: int, share: float, warmup: int, seed: int) -> dict[str, dict]:
    """Per deployment, the four figures of one attacked round after ``warmup`` clean ones."""
    out = {}
    rng = np.random.default_rng([seed, 23])
    compromised = np.sort(rng.choice(agents, size=round(share * agents), replace=False))
    for deployment in DEPLOYMENTS:
        guard = _guard(deployment, compromised, agents)
        played = fresh_policy(policy, True)
        economy = build_economy("supply_chain", {"n_agents": agents}, seed)
        for _ in range(warmup):
            step = played.act(economy, Interventions(robust_aggregation=guard.robust_aggregation()))
            economy.step(step.actions, step.messages)
        view = AttackView(warmup, economy, compromised, played, np.random.default_rng(seed), guard)
        lr = latent_round(view)
        delta = pgd(view, lr, OBJECTIVES["harm"], ATTACK)
        out[deployment] = _decompose(view, lr, delta)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--checkpoints", type=Path, nargs="+", default=[Path("checkpoints/small")])
    p.add_argument("--agents", type=int, default=200)
    p.add_argument("--share", type=float, default=0.1, help="compromised share of the agents")
    p.add_argument("--warmup", type=int, default=4, help="clean rounds before the attacked one")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = p.parse_args(argv)
    if args.agents < 20 or args.agents % 10 or not 0 < args.share < 1 or args.warmup < 1:
        p.error("need --agents >= 20 (a multiple of 10), 0 < --share < 1 and --warmup >= 1")
    try:
        policies = {str(c): load_policy(c) for c in args.checkpoints}
    except ForestError as error:
        print(f"harm_decomposition: {error}", file=sys.stderr)
        return 2
    torch.manual_seed(0)
    rows = {}
    jobs = [(name, seed) for name in policies for seed in args.seeds]
    for name, seed in tqdm(jobs, desc="forest x seed", unit="round"):
        result = one_round(policies[name], args.agents, args.share, args.warmup, seed)
        for deployment, figures in result.items():
            for figure, value in figures.items():
                rows.setdefault((name, deployment, figure), []).append(value)
    print(f"welfare lost per agent in the attacked round ({args.share:.0%} compromised, "
          f"{args.agents} agents, seeds {args.seeds}); mean [95% t interval]\n")  # fmt: skip
    print("| forest | deployment | " + " | ".join(FIGURES) + " |")
    print("|---|---|" + "---|" * len(FIGURES))
    for name in policies:
        for deployment in DEPLOYMENTS:
            cells = [t_interval(np.array(rows[(name, deployment, f)])).short(2) for f in FIGURES]
            print(f"| {name} | {deployment} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
