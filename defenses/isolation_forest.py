"""Isolation forest on summary tokens, one forest per role (Liu, Ting and Zhou 2008).

An isolation forest isolates a point with random axis-aligned cuts; anomalies are isolated in
fewer cuts. scikit-learn's ``IsolationForest.score_samples`` returns the negated anomaly score
of the paper, so the score here is ``-score_samples``: in (0, 1], higher is more anomalous,
about 0.5 for typical points. Roles differ (a supplier's summary is not a retailer's), so each
role gets its own forest, fitted on that role's clean summaries only. The forest's random
state is fixed by ``seed``: the same fit data gives the same forest and the same scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import IsolationForest as SklearnIsolationForest

from defenses.base import DetectorParams
from defenses.per_role import PerRoleModelDetector
from defenses.registry import register_defense
from forest.validation import require_int


@dataclass(frozen=True)
class IsolationForestParams(DetectorParams):
    n_estimators: int = 100  # trees per role
    seed: int = 0  # the forests' random_state

    def __post_init__(self) -> None:
        super().__post_init__()
        require_int(self.n_estimators, "n_estimators", 1, 10_000)
        require_int(self.seed, "seed", 0, 2**32 - 1)


@register_defense
class IsolationForest(PerRoleModelDetector):
    name = "isolation-forest"
    description = "isolation-forest anomaly score of summary tokens, one forest per role"
    params_class = IsolationForestParams
    params: IsolationForestParams

    def new_model(self) -> SklearnIsolationForest:
        return SklearnIsolationForest(
            n_estimators=self.params.n_estimators, random_state=self.params.seed
        )

    def anomaly(self, model: SklearnIsolationForest, rows: np.ndarray) -> np.ndarray:
        return -model.score_samples(rows)
