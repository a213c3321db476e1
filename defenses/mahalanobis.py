"""Mahalanobis distance of each summary token from the clean summaries of the same role.

Roles differ (a supplier's summary is not a firm's), so there is one Gaussian per role; the
Ledoit-Wolf shrinkage keeps the covariance invertible when a role has few clean samples against
the summary width.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from sklearn.covariance import LedoitWolf

from defenses.base import Detector, RoundSignals
from defenses.registry import register_defense
from forest.economy import ROLES
from forest.errors import InvalidInputError


@register_defense
class Mahalanobis(Detector):
    name = "mahalanobis"
    description = "squared Mahalanobis distance of summary tokens from clean ones, per role"

    def fit(self, rounds: Sequence[RoundSignals]) -> None:
        summaries = np.concatenate([r.summaries for r in rounds]).astype(np.float64)
        roles = np.concatenate([r.roles for r in rounds])
        self.models: dict[int, LedoitWolf] = {}
        for role in np.unique(roles):
            rows = summaries[roles == role]
            if rows.shape[0] < 2:
                raise InvalidInputError(
                    f"{self.name}: role {ROLES[role]} has {rows.shape[0]} clean sample(s); need 2"
                )
            self.models[int(role)] = LedoitWolf().fit(rows)

    def differentiable_score(
        self, summaries: torch.Tensor, roles: np.ndarray, log_shares: torch.Tensor
    ) -> torch.Tensor:
        scores = []
        for x, role in zip(summaries, roles, strict=True):
            model = self.models[int(role)]
            centred = x - torch.from_numpy(model.location_).to(x.dtype)
            scores.append(centred @ torch.from_numpy(model.precision_).to(x.dtype) @ centred)
        return torch.stack(scores)

    def score(self, signals: RoundSignals) -> np.ndarray:
        scores = np.empty(signals.roles.shape[0])
        summaries = signals.summaries.astype(np.float64)
        for role in np.unique(signals.roles):
            if int(role) not in self.models:
                raise InvalidInputError(f"{self.name}: no clean data for role {ROLES[role]}")
            rows = signals.roles == role
            scores[rows] = self.models[int(role)].mahalanobis(summaries[rows])
        return scores
