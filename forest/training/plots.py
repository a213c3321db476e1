"""The training loss curve as a picture."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def episode_means(log: list[dict], key: str) -> dict[str, tuple[list[int], list[float]]]:
    """Per economy: (last step, mean ``key``) of every replayed episode (a run of its rows)."""
    out: dict[str, tuple[list[int], list[float]]] = {}
    run: list[dict] = []
    for row in [*log, None]:
        if run and (row is None or row["economy"] != run[0]["economy"]):
            steps, means = out.setdefault(run[0]["economy"], ([], []))
            steps.append(run[-1]["step"])
            means.append(float(np.mean([r[key] for r in run])))
            run = []
        if row is not None:
            run.append(row)
    return out


def plot_loss_curve(log: list[dict], path: Path) -> None:
    """Mean action and message loss of every replayed episode, per economy, over steps.

    Training replays one episode (one economy) at a time and early rounds are harder than late
    ones, so raw per-step losses mostly show which economy is up; episode means show learning.
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110, sharex=True)
    starts = [row["step"] for prev, row in pairwise(log) if row["iteration"] != prev["iteration"]]
    for ax, key in zip(axes, ("action_loss", "message_loss"), strict=True):
        for economy, (steps, means) in sorted(episode_means(log, key).items()):
            ax.plot(steps, means, marker=".", label=economy)
        for i, step in enumerate(starts):
            label = "new DAgger iteration" if i == 0 else None
            ax.axvline(step, color="grey", linestyle=":", label=label)
        ax.set_xlabel("optimiser step (one economy round each)")
        ax.set_ylabel("cross-entropy, mean over the episode")
        ax.set_title(key.replace("_", " "))
    axes[0].legend()
    fig.suptitle("forest behaviour cloning (DAgger)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
