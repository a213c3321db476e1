"""Detectors with one outlier model per role, fitted on that role's clean summaries only: roles
differ (a supplier's summary is not a retailer's). Subclasses say which model and how it
scores; fitting, shape checks and scoring by role are here once."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from defenses.base import Detector, RoundSignals
from forest.economy import ROLES
from forest.errors import InvalidInputError


def role_name(role: int) -> str:
    return ROLES[role] if 0 <= role < len(ROLES) else f"id {role}"


class PerRoleModelDetector(Detector):
    """A ``Detector`` whose score is ``anomaly(model, rows)`` of its role's model."""

    @abstractmethod
    def new_model(self) -> Any:
        """An unfitted model with ``fit(rows)`` that returns it."""

    @abstractmethod
    def anomaly(self, model: Any, rows: np.ndarray) -> np.ndarray:
        """(m,) scores of ``rows`` (m, d), higher for more anomalous."""

    def fit(self, rounds: Sequence[RoundSignals]) -> None:
        if not rounds:
            raise InvalidInputError(f"{self.name}: fit needs at least one clean round")
        summaries = np.concatenate([r.summaries for r in rounds]).astype(np.float64)
        roles = np.concatenate([r.roles for r in rounds])
        self.width = summaries.shape[1]
        self.models: dict[int, Any] = {}
        for role in np.unique(roles):
            rows = summaries[roles == role]
            if rows.shape[0] < 2:
                raise InvalidInputError(
                    f"{self.name}: role {role_name(int(role))} has {rows.shape[0]} clean "
                    "sample(s); need 2"
                )
            self.models[int(role)] = self.new_model().fit(rows)

    def score(self, signals: RoundSignals) -> np.ndarray:
        if not hasattr(self, "models"):
            raise InvalidInputError(f"{self.name}: fit the detector before scoring")
        summaries = signals.summaries.astype(np.float64)
        n = signals.roles.shape[0]
        if summaries.ndim != 2 or summaries.shape != (n, self.width):
            raise InvalidInputError(
                f"{self.name}: expected summaries of shape ({n}, {self.width}) (one row per "
                f"role entry), got {summaries.shape}"
            )
        scores = np.empty(n)
        for role in np.unique(signals.roles):
            if int(role) not in self.models:
                raise InvalidInputError(
                    f"{self.name}: no clean data for role {role_name(int(role))}"
                )
            rows = signals.roles == role
            scores[rows] = self.anomaly(self.models[int(role)], summaries[rows])
        return scores
