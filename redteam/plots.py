"""The report's pictures: infection curves, ROC curves, harm against attack strength and
against the compromised share."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from redteam.curves import Curve
from redteam.metrics import ROC_GRID, CellResult
from redteam.scorecard import GroupRow


def _by_economy(results: Sequence[CellResult]) -> dict[str, dict[str, list[CellResult]]]:
    out: dict[str, dict[str, list[CellResult]]] = {}
    for r in results:
        out.setdefault(r.economy, {}).setdefault(r.group, []).append(r)
    return out


def _panels(n: int, title: str) -> tuple[Figure, np.ndarray]:
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 4.2), squeeze=False, layout="constrained")
    fig.suptitle(title)
    return fig, axes[0]


def _short(group: str) -> str:
    """The legend entry: the group without its economy (the panel says that)."""
    return group.split(" | ", 1)[1]


def infection_curves(results: Sequence[CellResult]) -> Figure:
    """Share of honest agents infected at least once, by round, mean over seeds."""
    economies = _by_economy(results)
    fig, axes = _panels(len(economies), "How far the poison spread (mean over seeds)")
    for ax, (economy, groups) in zip(axes, economies.items(), strict=True):
        for group, cells in groups.items():
            curve = np.mean([c.curves["infected_cumulative"] for c in cells], axis=0)
            ax.plot(np.arange(curve.size), curve, label=_short(group))
        ax.set_title(economy)
        ax.set_xlabel("round")
        ax.set_ylabel("honest agents infected so far (share)")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return fig


def roc_curves(results: Sequence[CellResult]) -> Figure | None:
    """Detector ROC per group (TPR averaged over seeds at fixed FPR); None without detectors."""
    detected = [r for r in results if r.roc_tpr is not None]
    if not detected:
        return None
    economies = _by_economy(detected)
    fig, axes = _panels(len(economies), "Detecting the compromised agents (ROC, mean over seeds)")
    for ax, (economy, groups) in zip(axes, economies.items(), strict=True):
        for group, cells in groups.items():
            tpr = np.mean([c.roc_tpr for c in cells], axis=0)
            auc = np.mean([c.scalars["detection_auc"] for c in cells])
            ax.plot(ROC_GRID, tpr, label=f"{_short(group)} (AUC {auc:.2f})")
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
        ax.set_title(economy)
        ax.set_xlabel("false-positive rate (honest agent-rounds flagged)")
        ax.set_ylabel("true-positive rate (compromised agent-rounds flagged)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    return fig


def harm_vs_strength(rows: Sequence[GroupRow]) -> Figure | None:
    """The security curve: harm (welfare lost against the twin) against the swept parameter,
    with its t interval over seeds; None when no attack was swept."""
    swept = [r for r in rows if r.sweep is not None]
    if not swept:
        return None
    economies: dict[str, dict[tuple[str, str, str], list[GroupRow]]] = {}
    for row in swept:
        key = (row.attack, row.sweep[0], row.defense or "no defense")
        economies.setdefault(row.economy, {}).setdefault(key, []).append(row)
    fig, axes = _panels(len(economies), "Harm against attack strength")
    for ax, (economy, lines) in zip(axes, economies.items(), strict=True):
        for (attack, param, defense), points in lines.items():
            points = sorted(points, key=lambda p: p.sweep[1])
            x = np.array([p.sweep[1] for p in points])
            est = [p.estimates["harm"] for p in points]
            y = np.array([e.mean for e in est])
            low = np.array([e.low if np.isfinite(e.low) else e.mean for e in est])
            high = np.array([e.high if np.isfinite(e.high) else e.mean for e in est])
            ax.errorbar(
                x, y, yerr=[y - low, high - y], marker="o", capsize=3, label=f"{attack} ({defense})"
            )
            ax.set_xlabel(param)
        ax.set_title(economy)
        ax.axhline(0.0, color="grey", linestyle="--", linewidth=0.8)
        ax.set_ylabel("harm: welfare lost vs the clean twin")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return fig


def security_curves(curves: Sequence[Curve]) -> Figure:
    """Harm against the compromised share, one line per attack with its t band over seeds, a
    panel per economy and defense; the dashed line is each panel's breakdown threshold."""
    panels: dict[str, list[Curve]] = {}
    for curve in curves:
        economy, _, defense = curve.group.split(" | ")
        panels.setdefault(f"{economy} | {defense}", []).append(curve)
    fig, axes = _panels(len(panels), "Harm against the compromised share (t band over seeds)")
    for ax, (title, lines) in zip(axes, panels.items(), strict=True):
        for curve in lines:
            x = np.array([p.share for p in curve.points])
            y = np.array([p.harm.mean for p in curve.points])
            low = np.array([p.harm.low if np.isfinite(p.harm.low) else p.harm.mean
                            for p in curve.points])  # fmt: skip
            high = np.array([p.harm.high if np.isfinite(p.harm.high) else p.harm.mean
                             for p in curve.points])  # fmt: skip
            (line,) = ax.plot(x, y, marker="o", label=curve.group.split(" | ")[1])
            ax.fill_between(x, low, high, color=line.get_color(), alpha=0.15)
        ax.axhline(lines[0].breakdown.threshold, color="black", linestyle="--", linewidth=0.8,
                   label="breakdown threshold")  # fmt: skip
        ax.axhline(0.0, color="grey", linewidth=0.6)
        ax.set_xscale("log")
        ax.set_title(title)
        ax.set_xlabel("compromised share of agents")
        ax.set_ylabel("harm: welfare lost vs the clean twin, per round")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return fig
