"""The training loss curve as a picture."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def episode_means(
    log: list[dict], key: str, window: int = 40
) -> dict[str, tuple[list[int], list[float]]]:
    """Per economy: (last step, mean ``key``) of each block of ``window`` of its rows.

    A block is one 40-round episode when episodes are replayed one at a time, and 40 rounds of
    that economy when economies are interleaved.
    """
    rows: dict[str, list[dict]] = {}
    for row in log:
        rows.setdefault(row["economy"], []).append(row)
    out: dict[str, tuple[list[int], list[float]]] = {}
    for economy, own in rows.items():
        blocks = [own[i : i + window] for i in range(0, len(own), window)]
        out[economy] = (
            [block[-1]["step"] for block in blocks],
            [float(np.mean([r[key] for r in block])) for block in blocks],
        )
    return out


def plot_loss_curve(
    log: list[dict], path: Path, title: str = "forest behaviour cloning (DAgger)"
) -> None:
    """Mean action and message loss of every replayed episode, per economy, over steps.

    Early rounds are harder than late ones, so raw per-step losses mostly show which round is
    up; means over 40 rounds of each economy show learning.
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110, sharex=True)
    starts = [
        row["step"] for prev, row in pairwise(log) if row.get("iteration") != prev.get("iteration")
    ]
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
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_finetune_curve(log: list[dict], path: Path, economy: str) -> None:
    """Task completion of each fine-tuning episode (actions sampled), and the policy loss."""
    iterations = [row["iteration"] + 1 for row in log]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110, sharex=True)
    axes[0].plot(iterations, [row["task_completion"] for row in log], marker=".")
    axes[0].set_ylabel("task completion of the episode played")
    axes[0].set_title(f"{economy}, actions sampled")
    axes[1].plot(iterations, [row["clipped_share"] for row in log], marker=".", label="clipped")
    axes[1].plot(iterations, [row["message_loss"] for row in log], marker=".", label="message")
    if "anchor_action_loss" in log[0]:
        anchor = [row["anchor_action_loss"] for row in log]
        axes[1].plot(iterations, anchor, marker=".", label="other economies' action loss")
    axes[1].set_title("share of samples clipped, imitation losses")
    axes[1].legend()
    for ax in axes:
        ax.set_xlabel("fine-tuning iteration")
    fig.suptitle("forest task-reward fine-tuning (PPO-clipped policy gradient)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
