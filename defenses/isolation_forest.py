"""Isolation forest on summary tokens, one forest per role (Liu, Ting and Zhou 2008).

An isolation forest isolates a point with random axis-aligned cuts; anomalies are isolated in
fewer cuts. scikit-learn's ``IsolationForest.score_samples`` returns the negated anomaly score
of the paper, so the score here is ``-score_samples``: in (0, 1], higher is more anomalous,
about 0.5 for typical points. Roles differ (a supplier's summary is not a retailer's), so each
role gets its own forest, fitted on that role's clean summaries only. The forest's random
state is fixed by ``seed``: the same fit data gives the same forest and the same scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import IsolationForest as SklearnIsolationForest

from defenses.base import Detector, DetectorParams, RoundSignals
from defenses.registry import register_defense
from forest.economy import ROLES
from forest.errors import InvalidInputError
from forest.validation import require_int


def _role_name(role: int) -> str:
    return ROLES[role] if 0 <= role < len(ROLES) else f"id {role}"


@dataclass(frozen=True)
class IsolationForestParams(DetectorParams):
    n_estimators: int = 100  # trees per role
    seed: int = 0  # the forests' random_state

    def __post_init__(self) -> None:
        super().__post_init__()
        require_int(self.n_estimators, "n_estimators", 1, 10_000)
        require_int(self.seed, "seed", 0, 2**32 - 1)


@register_defense
class IsolationForest(Detector):
    name = "isolation-forest"
    description = "isolation-forest anomaly score of summary tokens, one forest per role"
    params_class = IsolationForestParams
    params: IsolationForestParams

    def fit(self, rounds: Sequence[RoundSignals]) -> None:
        if not rounds:
            raise InvalidInputError(f"{self.name}: fit needs at least one clean round")
        summaries = np.concatenate([r.summaries for r in rounds]).astype(np.float64)
        roles = np.concatenate([r.roles for r in rounds])
        self.width = summaries.shape[1]
        self.models: dict[int, SklearnIsolationForest] = {}
        for role in np.unique(roles):
            rows = summaries[roles == role]
            if rows.shape[0] < 2:
                raise InvalidInputError(
                    f"{self.name}: role {_role_name(int(role))} has {rows.shape[0]} clean "
                    "sample(s); need 2"
                )
            forest = SklearnIsolationForest(
                n_estimators=self.params.n_estimators, random_state=self.params.seed
            )
            self.models[int(role)] = forest.fit(rows)

    def score(self, signals: RoundSignals) -> np.ndarray:
        if not hasattr(self, "models"):
            raise InvalidInputError(f"{self.name}: fit the detector before scoring")
        summaries = signals.summaries.astype(np.float64)
        if summaries.ndim != 2 or summaries.shape != (signals.roles.shape[0], self.width):
            raise InvalidInputError(
                f"{self.name}: expected summaries of shape ({signals.roles.shape[0]}, "
                f"{self.width}) (one row per role entry), got {summaries.shape}"
            )
        scores = np.empty(signals.roles.shape[0])
        for role in np.unique(signals.roles):
            if int(role) not in self.models:
                raise InvalidInputError(
                    f"{self.name}: no clean data for role {_role_name(int(role))}"
                )
            rows = signals.roles == role
            scores[rows] = -self.models[int(role)].score_samples(summaries[rows])
        return scores
