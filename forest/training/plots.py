"""The training loss curve as a picture."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt

SMOOTHING = 25  # steps in the running mean drawn over the raw losses


def plot_loss_curve(log: list[dict[str, float]], path: Path) -> None:
    """Action and message loss per optimiser step, raw and smoothed, DAgger iterations marked."""
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    steps = [row["step"] for row in log]
    for key, colour in (("action_loss", "tab:blue"), ("message_loss", "tab:orange")):
        values = [row[key] for row in log]
        ax.plot(steps, values, color=colour, alpha=0.25, linewidth=0.8)
        window = min(SMOOTHING, len(values))
        smooth = np.convolve(values, np.ones(window) / window, mode="valid")
        ax.plot(
            steps[window - 1 :],
            smooth,
            color=colour,
            label=f"{key.replace('_', ' ')} ({window}-step mean)",
        )
    starts = [row["step"] for prev, row in pairwise(log) if row["iteration"] != prev["iteration"]]
    for i, step in enumerate(starts):
        ax.axvline(
            step, color="grey", linestyle=":", label="new DAgger iteration" if i == 0 else None
        )
    ax.set_xlabel("optimiser step (one economy round each)")
    ax.set_ylabel("cross-entropy")
    ax.set_yscale("log")
    ax.set_title("forest behaviour cloning")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
