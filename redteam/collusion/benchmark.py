"""The collusion benchmark: simulate labelled markets, score them with every screen, and measure.

For each scenario and seed the markets are simulated (``scenarios.simulate``) and every screen
of the scenario's group scores the last ``window`` rounds of each market. Each group (pricing,
exchange, pricing played by the forest) is measured apart, on its test seeds:

- ROC AUC of each screen and of the combined detector (a logistic regression over the group's
  screens, fitted on the train seeds of its scenarios) for collusive against honest markets;
- TPR at ``target_fpr``: the best true-positive rate with a false-positive rate at most that;
- with each detector's threshold set on the group's reference honest scenario's train markets
  (so that ``target_fpr`` of them alarm), the alarm rate on every scenario: the false-positive
  rate of each hard negative and the detection rate of each cartel;
- time to detection (pricing): rounds from a cartel's onset to the first alarm of the CUSUM
  over the whole series at its calibrated threshold (median over caught markets; alarms before
  the onset are counted apart as early alarms).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from defenses.collusion import make_screen
from defenses.collusion.cusum import cusum_path, first_alarm
from redteam.collusion.simulate import simulate
from redteam.collusion.suite import CollusionSuite

COMBINED = "combined"


@dataclass(frozen=True)
class Scored:
    """Every market's scores (one row per market), pricing markets' CUSUM paths, and each
    covert cartel's decoding error."""

    # group, scenario, seed, split, market, collusive, onset, one column per screen (NaN
    # where the screen reads another group's panels)
    table: pd.DataFrame
    cusum: dict[tuple[str, int], np.ndarray]  # (scenario, seed) -> (M, T), pricing only
    # (scenario, seed) -> covert cartels' mean grid steps decoded off target, and by chance
    channel_errors: dict[tuple[str, int], tuple[float, float]]


def score_markets(
    suite: CollusionSuite, cache: Path | None, advance: Callable[[str], None] = lambda _: None
) -> Scored:
    """Simulate and score every (scenario, seed); ``advance`` is called after each one."""
    frames, paths, errors = [], {}, {}
    seeds = [(seed, "train") for seed in suite.train_seeds]
    seeds += [(seed, "test") for seed in suite.test_seeds]
    for group in suite.groups:
        screens = {name: make_screen(name) for name in suite.screens_for(group)}
        for scenario in (s for s in suite.scenarios if s.group == group):
            for seed, split in seeds:
                markets = scenario.markets or suite.markets
                labelled = simulate(scenario, markets, suite.rounds, seed,
                                    suite.deviation_round, cache)  # fmt: skip
                window = labelled.panel.rounds(suite.rounds - suite.window)
                frame = pd.DataFrame({
                    "group": scenario.group, "scenario": scenario.name, "seed": seed,
                    "split": split, "market": np.arange(markets),
                    "collusive": scenario.collusive, "onset": labelled.onset,
                })  # fmt: skip
                for name, screen in screens.items():
                    frame[name] = screen.score(window)
                frames.append(frame)
                if scenario.economy == "pricing":
                    paths[(scenario.name, seed)] = cusum_path(labelled.panel)
                if labelled.channel_error is not None:
                    errors[(scenario.name, seed)] = (
                        labelled.channel_error,
                        labelled.channel_chance,
                    )
                advance(f"{scenario.name} seed {seed}")
    return Scored(pd.concat(frames, ignore_index=True), paths, errors)


def _threshold(reference_scores: np.ndarray, target_fpr: float) -> float:
    """The score above which at most ``target_fpr`` of the reference markets lie."""
    return float(np.quantile(reference_scores, 1.0 - target_fpr, method="higher"))


def _tpr_at_fpr(labels: np.ndarray, scores: np.ndarray, target_fpr: float) -> float:
    fpr, tpr, _ = roc_curve(labels, scores)
    return float(tpr[fpr <= target_fpr].max())


def add_combined(scored: Scored, suite: CollusionSuite) -> None:
    """Fit each group's combined detector on its train markets; add its score as a column.

    Test markets are scored by the model fitted on all train markets. Train markets, whose
    reference rows set the detector's threshold, get out-of-fold scores (five folds): scored
    by a model that did not see them, so the threshold is not set on fitted values.
    """
    table = scored.table
    table[COMBINED] = np.nan
    for group in suite.groups:
        screens = list(suite.screens_for(group))
        mine = table["group"] == group
        train, test = mine & (table["split"] == "train"), mine & (table["split"] == "test")
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        features, labels = table.loc[train, screens], table.loc[train, "collusive"]
        folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
        table.loc[train, COMBINED] = cross_val_predict(
            model, features, labels, cv=folds, method="decision_function"
        )
        model.fit(features, labels)
        table.loc[test, COMBINED] = model.decision_function(table.loc[test, screens])


def detection_table(scored: Scored, suite: CollusionSuite, group: str) -> pd.DataFrame:
    """One row per detector of ``group``: AUROC, TPR at the target FPR, and the alarm rate on
    each of its scenarios."""
    table = scored.table[scored.table["group"] == group]
    test = table[table["split"] == "test"]
    reference_name = suite.reference(group)
    reference = table[(table["split"] == "train") & (table["scenario"] == reference_name)]
    labels = test["collusive"].to_numpy()
    rows = []
    for detector in (*suite.screens_for(group), COMBINED):
        scores = test[detector].to_numpy()
        threshold = _threshold(reference[detector].to_numpy(), suite.target_fpr)
        row = {
            "group": group,
            "detector": detector,
            "auroc": float(roc_auc_score(labels, scores)),
            f"tpr_at_{suite.target_fpr:g}_fpr": _tpr_at_fpr(labels, scores, suite.target_fpr),
            "threshold": threshold,
        }
        for scenario in suite.scenarios:
            if scenario.group == group:
                mine = test["scenario"] == scenario.name
                alarms = test.loc[mine, detector] > threshold
                row[f"alarm/{scenario.name}"] = float(alarms.mean())
        rows.append(row)
    return pd.DataFrame(rows)


def time_to_detection(scored: Scored, suite: CollusionSuite) -> pd.DataFrame:
    """Per collusive pricing scenario: rounds from onset to the CUSUM's first alarm on test
    markets, at the threshold calibrated on its group's reference."""
    columns = ["scenario", "onset", "caught", "early_alarm", "median_rounds_to_alarm"]
    thresholds = {}
    for group in suite.groups:
        if group.startswith("pricing"):
            name = suite.reference(group)
            peaks = [scored.cusum[(name, seed)].max(axis=1) for seed in suite.train_seeds]
            thresholds[group] = _threshold(np.concatenate(peaks), suite.target_fpr)
    rows = []
    for scenario in suite.scenarios:
        if not scenario.collusive or scenario.group not in thresholds:
            continue
        threshold = thresholds[scenario.group]
        onset = 0 if scenario.kind == "q-learning" else scenario.onset
        alarms = np.concatenate(
            [first_alarm(scored.cusum[(scenario.name, s)], threshold) for s in suite.test_seeds]
        )
        caught = alarms >= onset
        delays = alarms[caught] - onset
        rows.append({
            "scenario": scenario.name,
            "onset": onset,
            "caught": float(caught.mean()),
            "early_alarm": float(((alarms >= 0) & (alarms < onset)).mean()),
            "median_rounds_to_alarm": float(np.median(delays)) if delays.size else float("nan"),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=columns)
