"""The collusion benchmark's report: markdown tables, ROC curves, and an MLflow run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from redteam.collusion.benchmark import COMBINED, Scored
from redteam.collusion.suite import CollusionSuite


def _cell(value: float) -> str:
    return "n/a" if isinstance(value, float) and math.isnan(value) else f"{value:.2f}"


def _detection_markdown(detection: pd.DataFrame, suite: CollusionSuite, group: str) -> list[str]:
    reference = suite.reference(group)
    mine = [s for s in suite.scenarios if s.group == group]
    honest = [s.name for s in mine if not s.collusive and s.name != reference]
    cartels = [s.name for s in mine if s.collusive]
    tpr = f"tpr_at_{suite.target_fpr:g}_fpr"
    head = ["detector", "AUROC", f"TPR @{suite.target_fpr:.0%} FPR", f"FPR {reference}"]
    head += [f"FPR {n}" for n in honest] + [f"TPR {n}" for n in cartels]
    lines = [f"**{group}** (thresholds: {suite.target_fpr:.0%} of {reference} train markets)",
             "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]  # fmt: skip
    for _, row in detection[detection["group"] == group].iterrows():
        cells = [f"**{row.detector}**" if row.detector == COMBINED else row.detector]
        cells += [_cell(row.auroc), _cell(row[tpr])]
        cells += [_cell(row[f"alarm/{n}"]) for n in [reference, *honest, *cartels]]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def markdown(
    detection: pd.DataFrame, delays: pd.DataFrame, suite: CollusionSuite,
    channel_errors: dict[tuple[str, int], tuple[float, float]] | None = None,
) -> str:  # fmt: skip
    lines = []
    for group in suite.groups:
        lines += _detection_markdown(detection, suite, group)
    if len(delays):
        lines += ["| cartel (pricing) | onset | caught | early alarm | median rounds onset -> "
                  "CUSUM alarm |", "|---|---|---|---|---|"]  # fmt: skip
        for _, row in delays.iterrows():
            lines.append(
                f"| {row.scenario} | {row.onset} | {_cell(row.caught)} "
                f"| {_cell(row.early_alarm)} | {_cell(row.median_rounds_to_alarm)} |"
            )
    if channel_errors:
        lines += ["", "| covert cartel | seed | decoded target off by (grid steps) | by chance |",
                  "|---|---|---|---|"]  # fmt: skip
        for (name, seed), (error, chance) in sorted(channel_errors.items()):
            lines.append(f"| {name} | {seed} | {error:.2f} | {chance:.2f} |")
    return "\n".join(lines) + "\n"


def roc_figure(scored: Scored, suite: CollusionSuite, path: Path) -> None:
    test = scored.table[scored.table["split"] == "test"]
    groups = suite.groups
    fig, axes = plt.subplots(1, len(groups), figsize=(6.2 * len(groups), 5.5),
                             layout="constrained", squeeze=False)  # fmt: skip
    for ax, group in zip(axes[0], groups, strict=True):
        mine = test[test["group"] == group]
        for detector in (*suite.screens_for(group), COMBINED):
            fpr, tpr, _ = roc_curve(mine["collusive"], mine[detector])
            width = 2.5 if detector == COMBINED else 1.2
            ax.plot(fpr, tpr, linewidth=width, label=detector)
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        ax.axvline(suite.target_fpr, color="grey", linestyle="--", linewidth=0.8)
        ax.set_xlabel("false-positive rate (honest markets, test seeds)")
        ax.set_ylabel("true-positive rate (collusive markets)")
        ax.set_title(f"{group}: collusion screens on unseen seeds")
        ax.legend(fontsize=8, loc="lower right")
        ax.grid(alpha=0.3)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(
    scored: Scored, detection: pd.DataFrame, delays: pd.DataFrame, suite: CollusionSuite, out: Path
) -> dict[str, Path]:
    """Write scores.csv, detection.csv, time_to_detection.csv, report.md, report.json, roc.png."""
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "scores": out / "scores.csv",
        "detection": out / "detection.csv",
        "delays": out / "time_to_detection.csv",
        "markdown": out / "report.md",
        "json": out / "report.json",
        "roc": out / "roc.png",
    }
    scored.table.to_csv(files["scores"], index=False)
    detection.to_csv(files["detection"], index=False)
    delays.to_csv(files["delays"], index=False)
    files["markdown"].write_text(markdown(detection, delays, suite, scored.channel_errors))
    report = {
        "suite": suite.name,
        "detection": detection.replace({np.nan: None}).to_dict(orient="records"),
        "time_to_detection": delays.replace({np.nan: None}).to_dict(orient="records"),
    }
    files["json"].write_text(json.dumps(report, indent=2))
    roc_figure(scored, suite, files["roc"])
    return files


def log_to_mlflow(
    uri: str, suite: CollusionSuite, detection: pd.DataFrame, delays: pd.DataFrame,
    files: dict[str, Path],
) -> str:  # fmt: skip
    """One FINISHED MLflow run with the settings, every figure as a metric, and the report."""
    import mlflow

    from redteam.tracking import git_commit

    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(f"collusion/{suite.name}")
    tpr = f"tpr_at_{suite.target_fpr:g}_fpr"
    with mlflow.start_run(run_name=suite.name) as run:
        mlflow.log_params({
            "markets": suite.markets, "rounds": suite.rounds, "window": suite.window,
            "train_seeds": list(suite.train_seeds), "test_seeds": list(suite.test_seeds),
            "target_fpr": suite.target_fpr, "references": ",".join(suite.references),
            "scenarios": ",".join(s.name for s in suite.scenarios), "git_commit": git_commit(),
        })  # fmt: skip
        metrics = {}
        for _, row in detection.iterrows():
            key = f"{row.group}/{row.detector}"
            metrics[f"auroc/{key}"] = row.auroc
            metrics[f"tpr_at_fpr/{key}"] = row[tpr]
            for scenario in suite.scenarios:
                if scenario.group == row.group:
                    metrics[f"alarm/{key}/{scenario.name}"] = row[f"alarm/{scenario.name}"]
        for _, row in delays.iterrows():
            if not math.isnan(row.median_rounds_to_alarm):
                metrics[f"rounds_to_alarm/{row.scenario}"] = row.median_rounds_to_alarm
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
        for path in files.values():
            mlflow.log_artifact(str(path))
    return run.info.run_id
