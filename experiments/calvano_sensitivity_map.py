"""Calvano et al.'s (2020) sensitivity map: how much Q-learning duopolists collude as a function
of their learning rate alpha and their exploration decay beta.

    python experiments/calvano_sensitivity_map.py [--alphas 10] [--betas 10] [--markets 50]
        [--workers 2] [--quick]

Every cell of an alpha x beta grid over Calvano's ranges (alpha in [0.025, 0.25], beta in
(0, 2e-5], exploration exp(-beta t)) trains ``--markets`` logit duopolies from the same seed with
Calvano's other settings (delta 0.95, 15 prices) until every greedy strategy has held for
100,000 periods, then measures the profit gain Delta (0: Nash profit, 1: monopoly profit) over
the cycle greedy play settles in. Writes the heatmap of mean Delta and a CSV with each cell's
mean and sd of Delta, markets converged and median periods to converge. ``--quick`` runs a 3 x 3
grid of 8 markets stopped at 2,000,000 periods (under a minute) into results/.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from forest.economy.q_learning import QLearningConfig, converged_profit_gain, train

ALPHA_RANGE = (0.025, 0.25)
BETA_MAX = 2e-5
FIGURE = Path("experiments/figures/calvano_sensitivity_map.png")
NUMBERS = Path("experiments/figures/calvano_sensitivity_map.csv")
QUICK_DIR = Path("results/calvano_sensitivity_map_quick")


@dataclass(frozen=True)
class Cell:
    alpha: float
    beta: float
    markets: int
    converged: int
    median_periods_to_converge: float
    profit_gain_mean: float
    profit_gain_sd: float
    seconds: float


def grid(alphas: int, betas: int) -> tuple[np.ndarray, np.ndarray]:
    """Evenly spaced alphas over Calvano's range, and betas from BETA_MAX / betas to BETA_MAX
    (beta 0 would never stop exploring). With 10 x 10 the grid holds Calvano's baseline,
    alpha 0.15 and beta 4e-6."""
    return np.linspace(*ALPHA_RANGE, alphas), np.linspace(BETA_MAX / betas, BETA_MAX, betas)


def run_cell(alpha: float, beta: float, markets: int, seed: int, max_periods: int) -> Cell:
    began = time.perf_counter()
    config = QLearningConfig(alpha=alpha, beta=beta, max_periods=max_periods)
    learners, market = train(config, markets, seed)
    gain = converged_profit_gain(learners, market, config.points)
    converged_at = learners.converged_at[learners.converged_at >= 0]
    return Cell(
        alpha, beta, markets, len(converged_at),
        float(np.median(converged_at)) if len(converged_at) else float("nan"),
        float(gain.mean()), float(gain.std()), time.perf_counter() - began,
    )  # fmt: skip


def run_grid(alphas: np.ndarray, betas: np.ndarray, markets: int, seed: int, max_periods: int,
             workers: int) -> list[Cell]:  # fmt: skip
    # Smallest beta first: those cells explore longest, and starting them early keeps every
    # worker busy until the end.
    cells = sorted(((a, b) for a in alphas for b in betas), key=lambda cell: cell[1])
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with ProcessPoolExecutor(workers) as pool, Progress(*columns) as progress:
        task = progress.add_task("cells", total=len(cells))
        futures = [pool.submit(run_cell, float(a), float(b), markets, seed, max_periods)
                   for a, b in cells]  # fmt: skip
        done = []
        for future in as_completed(futures):
            cell = future.result()
            done.append(cell)
            # A line per cell as well as the bar: a log (nohup, CI) gets no bar until the end.
            progress.console.print(
                f"alpha {cell.alpha:.4g}, beta {cell.beta:.2g}: Delta {cell.profit_gain_mean:.3f}"
                f" (sd {cell.profit_gain_sd:.3f}), {cell.converged}/{cell.markets} converged, "
                f"{cell.seconds:.0f} s"
            )
            progress.advance(task)
    return sorted(done, key=lambda cell: (cell.alpha, cell.beta))


def write_numbers(cells: list[Cell], path: Path) -> None:
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(asdict(cells[0])))
        writer.writeheader()
        for cell in cells:
            writer.writerow({key: f"{value:.6g}" if isinstance(value, float) else value
                             for key, value in asdict(cell).items()})  # fmt: skip


def heatmap(cells: list[Cell], alphas: np.ndarray, betas: np.ndarray, path: Path) -> None:
    gain = np.array([cell.profit_gain_mean for cell in cells]).reshape(len(alphas), len(betas))
    fig, ax = plt.subplots(figsize=(7.5, 5.8), layout="constrained")
    image = ax.imshow(gain.T, origin="lower", cmap="viridis", aspect="auto")
    for i in range(len(alphas)):
        for j in range(len(betas)):
            ax.text(i, j, f"{gain[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="black" if gain[i, j] > gain.mean() else "white")  # fmt: skip
    ax.set_xticks(range(len(alphas)), [f"{a:.3g}" for a in alphas])
    ax.set_yticks(range(len(betas)), [f"{b * 1e5:.2g}" for b in betas])
    ax.set_xlabel("learning rate alpha")
    ax.set_ylabel("exploration decay beta (x 1e-5)")
    ax.set_title(f"Q-learning duopoly: mean profit gain Delta over {cells[0].markets} markets")
    fig.colorbar(image, ax=ax, label="Delta (0: Nash, 1: monopoly)")
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--alphas", type=int, default=10, help="learning rates (default: 10)")
    parser.add_argument("--betas", type=int, default=10, help="exploration decays (default: 10)")
    parser.add_argument("--markets", type=int, default=50, help="markets per cell (default: 50)")
    parser.add_argument("--seed", type=int, default=0, help="every cell's seed (default: 0)")
    parser.add_argument("--max-periods", type=int, default=10_000_000,
                        help="stop a cell's training here if it has not converged "
                        "(default: 10,000,000)")  # fmt: skip
    parser.add_argument("--workers", type=int, default=2, help="processes (default: 2)")
    parser.add_argument("--figure", type=Path, help=f"the heatmap (default: {FIGURE})")
    parser.add_argument("--numbers", type=Path, help=f"the CSV (default: {NUMBERS})")
    parser.add_argument("--quick", action="store_true",
                        help=f"3 x 3 cells of 8 markets, 2,000,000 periods at most, into "
                        f"{QUICK_DIR}/ (under a minute)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.quick:
        args.alphas, args.betas, args.markets, args.max_periods = 3, 3, 8, 2_000_000
        QUICK_DIR.mkdir(parents=True, exist_ok=True)
        out_dir = QUICK_DIR
    else:
        out_dir = FIGURE.parent
    figure = args.figure or out_dir / FIGURE.name
    numbers = args.numbers or out_dir / NUMBERS.name
    alphas, betas = grid(args.alphas, args.betas)
    began = time.perf_counter()
    cells = run_grid(alphas, betas, args.markets, args.seed, args.max_periods, args.workers)
    wall = time.perf_counter() - began
    write_numbers(cells, numbers)
    heatmap(cells, alphas, betas, figure)
    gains = [cell.profit_gain_mean for cell in cells]
    converged = sum(cell.converged for cell in cells)
    print(
        f"{len(cells)} cells x {args.markets} markets in {wall / 60:.1f} minutes "
        f"({args.workers} workers): mean Delta {min(gains):.3f} to {max(gains):.3f}, "
        f"{converged}/{len(cells) * args.markets} markets converged; {figure}, {numbers}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
