"""Certified decisions of a shipped forest: the share of decisions no ``k`` compromised agents
per tree can change, and how far (in action classes) the rest can be moved, as a curve over k.

    python experiments/certified_share.py --checkpoint checkpoints/small --agents 300 \\
        --rounds 6 --seeds 0 1 2 --k 0 1 2 4 --figure experiments/figures/certified_share.png

plays each economy clean under robust pooling (median, and the trimmed mean at 20%: the
defense matrix's settings, share cap 2), certifies every agent's decision at every round after
the first with ``defenses.certification.certify`` (one round: the honest agents' own summaries
as given), and prints per economy, pooling and k the certified share of decisions, the share
the strongest attack here leaves unchanged, and the median certified radius, each the mean over
seeds with a t interval (rounds pooled within a seed). The attack (``--attack-steps`` Adam steps
at each of two scales, on a margin loss over every honest decision, ``k`` random agents per
tree) bounds the truly robust share from above, as the certificate bounds it from below: a wide
gap is the bound's looseness, a narrow one the forest's own fragility. ``--exposed-trees N``
lets only the first N trees hold compromised agents (the others are clean), which shows how
much of the loss is the forest slots carrying one tree's uncertainty to every agent.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from defenses.certification import certify
from forest.actions import valid_classes
from forest.checkpoints import load_policy
from forest.errors import ForestError
from forest.interventions import Interventions
from forest.model.robust_aggregation import RobustAggregation
from redteam.episodes import build_economy, fresh_policy
from redteam.intervals import t_interval

ECONOMIES = ("supply_chain", "pricing", "exchange")
POOLINGS = {
    "median": RobustAggregation(method="median"),
    "trimmed mean 20%": RobustAggregation(method="trimmed-mean", trim=0.2),
}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--checkpoint", type=Path, default=Path("checkpoints/small"))
    p.add_argument("--economies", nargs="+", default=list(ECONOMIES), choices=ECONOMIES)
    p.add_argument("--agents", type=int, default=300)
    p.add_argument("--rounds", type=int, default=6, help="rounds played; certified from round 2")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--k", type=int, nargs="+", default=[0, 1, 2, 4], help="compromised per tree")
    p.add_argument("--exposed-trees", type=int, default=None, help="only the first N trees")
    p.add_argument("--attack-steps", type=int, default=40, help="Adam steps per scale (0: none)")
    p.add_argument("--figure", type=Path, default=None, help="certified share against k")
    args = p.parse_args(argv)
    if args.agents < 2 or args.rounds < 2 or min(args.k) < 0:
        p.error("need --agents >= 2, --rounds >= 2 and every --k >= 0")
    return args


def _unchanged_by_attack(model, summaries, trees, pooling, k, allowed, exposed, rng, steps):
    """(n,) 0 where some perturbation of ``k`` random agents per exposed tree (at most its size)
    changed the decision, 1 where none did, NaN for the compromised agents themselves."""
    bad = []
    for tree in (torch.unique(trees) if exposed is None else exposed).tolist():
        rows = np.flatnonzero(trees.numpy() == tree)
        bad.extend(rng.choice(rows, size=min(k, rows.size), replace=False).tolist())
    unchanged = np.ones(summaries.shape[0], dtype=bool)
    if not bad or steps == 0:
        return unchanged.astype(float)
    bad_rows = torch.tensor(sorted(bad))
    unchanged[bad_rows.numpy()] = False
    with torch.no_grad():
        context = model.aggregate(summaries, trees, robust_aggregation=pooling)
        clean = model.heads(summaries, context)
    chosen = clean[0].masked_fill(~allowed, -torch.inf).argmax(-1)
    honest = torch.from_numpy(unchanged.copy())
    for scale in (1.0, 100.0):
        delta = (torch.randn(len(bad), summaries.shape[1]) * scale).requires_grad_()
        optimiser = torch.optim.Adam([delta], lr=0.1 * scale)
        for _ in range(steps):
            attacked = summaries.index_add(0, bad_rows, delta)
            context = model.aggregate(attacked, trees, robust_aggregation=pooling)
            logits = model.heads(attacked, context)[0].masked_fill(~allowed, -1e9)
            own = logits.gather(1, chosen[:, None]).squeeze(1)
            rival = logits.scatter(1, chosen[:, None], -1e9).amax(1)
            loss = (own - rival).clamp_min(-0.1)[honest].sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            moved = (logits.argmax(-1) != chosen).numpy()
            unchanged &= ~moved
    return np.where(honest.numpy(), unchanged.astype(float), np.nan)


def _one_seed(policy, economy_name, agents, rounds, seed, pooling, ks, exposed_trees, steps):
    """Per k: (certified share, share the attack left unchanged, median radius) over every
    honest decision of rounds 2..R (the certificate is for every agent, none named)."""
    policy = fresh_policy(policy, True)
    economy = build_economy(economy_name, {"n_agents": agents}, seed)
    rng = np.random.default_rng(seed)
    certified = {k: [] for k in ks}
    unchanged = {k: [] for k in ks}
    radius = {k: [] for k in ks}
    interventions = Interventions(robust_aggregation=pooling)
    for round_ in range(rounds):
        if round_ >= 1:
            inputs = policy.model_inputs(economy)
            summaries, trees = policy.encoded(inputs), inputs["tree_ids"]
            exposed = None
            if exposed_trees is not None:
                exposed = torch.unique(trees, sorted=True)[:exposed_trees]
            n_classes = policy.model.readout.action_head.out_features
            valid = torch.from_numpy(valid_classes(economy, n_classes))
            allowed = torch.arange(n_classes)[None, :] < valid[:, None]
            for k in ks:
                cert = certify(policy.model, summaries, trees, pooling, k, valid, exposed)
                certified[k].append(cert.certified)
                radius[k].append(cert.radius)
                kept = _unchanged_by_attack(
                    policy.model, summaries, trees, pooling, k, allowed, exposed, rng, steps
                )
                unchanged[k].append(kept)
        step = policy.act(economy, interventions)
        economy.step(step.actions, step.messages)
    return {
        k: (
            float(np.concatenate(certified[k]).mean()),
            _honest_mean(np.concatenate(unchanged[k])),
            float(np.median(np.concatenate(radius[k]))),
        )
        for k in ks
    }


def _honest_mean(x: np.ndarray) -> float:
    """Mean over the honest agents (NaN marks the compromised); NaN if every agent was."""
    honest = x[~np.isnan(x)]
    return float(honest.mean()) if honest.size else float("nan")


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    try:
        policy = load_policy(args.checkpoint)
    except ForestError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    ks = sorted(set(args.k))
    rows = []
    cells = [(e, name) for e in args.economies for name in POOLINGS]
    for economy_name, name in tqdm(cells, desc="economy x pooling"):
        per_seed = [
            _one_seed(
                policy,
                economy_name,
                args.agents,
                args.rounds,
                seed,
                POOLINGS[name],
                ks,
                args.exposed_trees,
                args.attack_steps,
            )
            for seed in args.seeds
        ]
        for k in ks:
            share = t_interval(np.array([s[k][0] for s in per_seed]))
            kept = t_interval(np.array([s[k][1] for s in per_seed]))
            reach = t_interval(np.array([s[k][2] for s in per_seed]))
            rows.append((economy_name, name, k, share, kept, reach))
    print(
        "| economy | pooling | k per tree | certified share | unchanged by the attack "
        "| median radius (classes) |"
    )
    print("|---|---|---|---|---|---|")
    for economy_name, name, k, share, kept, reach in rows:
        print(
            f"| {economy_name} | {name} | {k} | {_interval(share)} | {_interval(kept)} "
            f"| {_interval(reach, 1)} |"
        )
    print(
        f"\n{args.agents} agents, rounds 2-{args.rounds}, seeds {args.seeds}; mean over seeds "
        "[95% t interval]; exposed trees: "
        + ("all" if args.exposed_trees is None else f"the first {args.exposed_trees}")
    )
    if args.figure is not None:
        _figure(rows, ks, args.figure)
    return 0


def _interval(x, digits: int = 3) -> str:
    if np.isnan(x.low):
        return f"{x.mean:.{digits}f}"
    return f"{x.mean:.{digits}f} [{x.low:.{digits}f}, {x.high:.{digits}f}]"


def _figure(rows, ks, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for economy_name, name in dict.fromkeys((r[0], r[1]) for r in rows):
        mine = [r for r in rows if r[0] == economy_name and r[1] == name]
        mean = np.array([r[3].mean for r in mine])
        low = np.array([r[3].low for r in mine])
        high = np.array([r[3].high for r in mine])
        (line,) = ax.plot(ks, mean, marker="o", label=f"{economy_name}, {name}")
        if not np.isnan(low).any():
            ax.fill_between(ks, low, high, color=line.get_color(), alpha=0.2)
    ax.set_xlabel("compromised agents per tree (k)")
    ax.set_ylabel("certified share of decisions")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    print(f"figure: {path}")


if __name__ == "__main__":
    sys.exit(main())
