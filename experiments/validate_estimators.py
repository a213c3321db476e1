"""Full-size validation of the interval and R0 estimators on synthetic data with known truth.

    python experiments/validate_estimators.py                # writes results/estimators.md
    python experiments/validate_estimators.py --experiments 200 --outbreaks 100 --n-er 5000

Intervals (redteam.intervals): paired experiments shaped like the suites (2, 3, 5 seeds; a seed
effect and a tree effect shared by the attacked episode and its twin; an attack effect varying
by seed and by tree; skewed agent noise), true difference 0.3 and 0. The table gives how often
the nominal 95% interval covers the truth: the seed-level paired t, the tree-level interval (t
over seed means), and for contrast the old percentile bootstrap over seed means and a t over all
trees pooled as if independent.

R0 (redteam.reproduction): SIR (2 infectious rounds) and SI outbreaks simulated on Erdos-Renyi
graphs (nominal R = mean degree * transmissibility) and on the supply-chain (a forest of trees:
nominal R = excess degree * transmissibility) and exchange (cliques of 10: no closed form)
interaction graphs, a fresh set of attackers each outbreak. The table gives the estimated R0
(pooled over outbreaks), the simulator's true R0 from its recorded infectors (same early cases),
the nominal R where one exists, and the old growth ratio of redteam.propagation for contrast.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from forest.economy import make_economy
from redteam.intervals import hierarchical_interval, paired_t_interval, t_interval
from redteam.reproduction import (
    erdos_renyi,
    estimate_reproduction,
    excess_degree,
    simulate_outbreaks,
    true_reproduction,
)
from redteam.statistics import bootstrap_mean

D = 2  # infectious rounds of the SIR outbreaks
ROUNDS = 12


# ---------------------------------------------------------------- intervals


def simulate_suites(rng, n_seeds, true_diff, experiments, max_trees=10, agents=10):
    """(E, S, T) attacked and twin tree values, and each experiment's tree count (4-10)."""
    shape = (experiments, n_seeds, max_trees)
    seed_effect = rng.normal(0.0, 1.0, (experiments, n_seeds, 1))
    tree_effect = rng.normal(0.0, 0.5, shape)
    attack = true_diff + rng.normal(0.0, 0.15, (experiments, n_seeds, 1))
    attack = attack + rng.normal(0.0, 0.3, shape)

    def agent_noise():
        return (rng.exponential(1.0, (*shape, agents)) - 1.0).mean(axis=-1)

    twin = seed_effect + tree_effect + agent_noise()
    attacked = seed_effect + tree_effect + attack + agent_noise()
    return attacked, twin, rng.integers(4, max_trees + 1, experiments)


def simulate_seed_figures(rng, n_seeds, true_diff, experiments, rounds=50):
    """(E, S) attacked and twin seed-level figures."""
    seed_effect = rng.normal(0.0, 1.0, (experiments, n_seeds))
    attack = true_diff + rng.normal(0.0, 0.2, (experiments, n_seeds))

    def episode_noise():
        return (rng.exponential(1.0, (experiments, n_seeds, rounds)) - 1.0).mean(axis=-1)

    return seed_effect + attack + episode_noise(), seed_effect + episode_noise()


def coverage_rows(experiments: int, seed: int) -> list[str]:
    rows = []
    for n_seeds in (2, 3, 5):
        for true_diff in (0.3, 0.0):
            rng = np.random.default_rng([seed, n_seeds, int(10 * true_diff)])
            seed_a, seed_b = simulate_seed_figures(rng, n_seeds, true_diff, experiments)
            attacked, twin, n_trees = simulate_suites(rng, n_seeds, true_diff, experiments)
            hits = np.zeros(4)
            width = np.zeros(2)
            for e in range(experiments):
                a, b = attacked[e, :, : n_trees[e]], twin[e, :, : n_trees[e]]
                results = (
                    paired_t_interval(seed_a[e], seed_b[e]),
                    hierarchical_interval(a, b),
                    bootstrap_mean(seed_a[e] - seed_b[e], seed=e),
                    t_interval((a - b).ravel()),
                )
                hits += [r.low <= true_diff <= r.high for r in results]
                width += [results[0].high - results[0].low, results[1].high - results[1].low]
            cov = 100 * hits / experiments
            w = width / experiments
            rows.append(
                f"| {n_seeds} | {true_diff:.1f} | {cov[0]:.1f} | {cov[1]:.1f} | {cov[2]:.1f} "
                f"| {cov[3]:.1f} | {w[0]:.2f} | {w[1]:.2f} |"
            )
    return rows


# ---------------------------------------------------------------- R0


def growth_ratio(infected: np.ndarray, n_attackers: int) -> float:
    """redteam.propagation's old "R0" with the attack starting in round 1."""
    cumulative = np.logical_or.accumulate(infected[1:], axis=0).sum(axis=1)
    new = np.diff(np.concatenate([[0], cumulative]))
    half = np.flatnonzero(cumulative >= 0.5 * (infected.shape[1] - n_attackers))
    end = int(half[0]) + 1 if half.size else new.size
    return float(new[:end].sum() / np.concatenate([[n_attackers], new[: end - 1]]).sum())


def outbreak_row(name, src, dst, n, p, window, n_attackers, outbreaks, rng, nominal, batch=100):
    weighted = weight = 0.0
    old, totals, counts = [], [], []
    for first in range(0, outbreaks, batch):
        size = min(batch, outbreaks - first)
        attackers = np.sort(
            np.stack([rng.choice(n, n_attackers, replace=False) for _ in range(size)]), axis=1
        )
        out = simulate_outbreaks(src, dst, n, attackers, p, ROUNDS, 1, window, size, rng)
        for b in range(size):
            est = estimate_reproduction(out.infected[b], attackers[b], 1, src, dst, n, window)
            if est.n_early > 0:
                weighted, weight = weighted + est.r0 * est.n_early, weight + est.n_early
            old.append(growth_ratio(out.infected[b], n_attackers))
        total, count = true_reproduction(out, attackers, 1, window)
        totals.append(total.sum())
        counts.append(count.sum())
    total, count = np.array(totals), np.array(counts)
    estimated, truth = weighted / weight, total.sum() / count.sum()
    nominal_text = f"{nominal:.2f}" if nominal is not None else "—"
    error = 100 * (estimated / nominal - 1) if nominal is not None else float("nan")
    error_text = f"{error:+.1f}%" if nominal is not None else "—"
    model = f"SIR D={window}" if window else "SI"
    return (
        f"| {name} | {model} | {p:.3f} | {nominal_text} | {estimated:.3f} | {truth:.3f} "
        f"| {error_text} | {100 * (estimated / truth - 1):+.1f}% | {weight / outbreaks:.1f} "
        f"| {np.mean(old):.2f} |"
    )


def reproduction_rows(outbreaks: int, n_er: int, seed: int) -> list[str]:
    rows = []
    mean_degree = 5.0
    rng = np.random.default_rng([seed, 1])
    src, dst = erdos_renyi(n_er, mean_degree, rng)
    n_attackers = max(2, n_er // 500)
    for r in (0.5, 1.5, 3.0):
        p = 1 - (1 - r / mean_degree) ** (1 / D)
        er = f"Erdos-Renyi n={n_er} k=5"
        rows.append(outbreak_row(er, src, dst, n_er, p, D, n_attackers, outbreaks, rng, r))
    for p in (0.05, 0.2):
        er = f"Erdos-Renyi n={n_er} k=5"
        rows.append(outbreak_row(er, src, dst, n_er, p, None, n_attackers, outbreaks, rng, None))
    for economy in ("supply_chain", "exchange"):
        graph = make_economy(economy, 0).interaction_graph()
        n, g_src, g_dst = graph.n_agents, graph.src, graph.dst
        kappa = excess_degree(g_src, g_dst, n)
        if economy == "supply_chain":
            settings = [(1 - (1 - r / kappa) ** (1 / D), D, r) for r in (0.5, 1.5)]
        else:
            settings = [(p, D, None) for p in (0.05, 0.2, 0.5)]
        settings += [(p, None, None) for p in (0.05, 0.2)]
        for p, window, nominal in settings:
            label = f"{economy} (n={n})"
            rows.append(outbreak_row(label, g_src, g_dst, n, p, window, 5, outbreaks, rng, nominal))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--experiments",
        type=int,
        default=1000,
        help="simulated paired experiments per seed count (default 1000)",
    )
    parser.add_argument(
        "--outbreaks",
        type=int,
        default=500,
        help="simulated outbreaks per R and graph (default 500)",
    )
    parser.add_argument(
        "--n-er", type=int, default=20000, help="agents in the Erdos-Renyi graphs (default 20000)"
    )
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--out", type=Path, default=Path("results/estimators.md"))
    args = parser.parse_args(argv)

    start = time.perf_counter()
    lines = [
        "# Estimator validation",
        "",
        f"Command: `python experiments/validate_estimators.py --experiments {args.experiments} "
        f"--outbreaks {args.outbreaks} --n-er {args.n_er} --seed {args.seed}`",
        "",
        f"## Coverage of nominal 95% intervals (%; {args.experiments} experiments per row; "
        f"binomial sd {100 * np.sqrt(0.95 * 0.05 / args.experiments):.1f} points)",
        "",
        "| seeds | true diff | paired t (seed) | t on seed means (tree) | percentile bootstrap "
        "(old) | t pooling trees | width seed | width tree |",
        "|---|---|---|---|---|---|---|---|",
        *coverage_rows(args.experiments, args.seed),
        "",
        f"## R0 recovery ({args.outbreaks} outbreaks per row, {ROUNDS} rounds, attack from "
        "round 1; estimate and truth pooled over outbreaks)",
        "",
        "| graph | model | p | nominal R | estimated R0 | true R0 (infectors) | vs nominal "
        "| vs true | early cases / outbreak | old growth ratio |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *reproduction_rows(args.outbreaks, args.n_er, args.seed),
    ]
    elapsed = time.perf_counter() - start
    lines += ["", f"Wall time: {elapsed:.1f} s", ""]
    text = "\n".join(lines)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
