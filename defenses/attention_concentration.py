"""Attention-mass concentration: an agent that takes more of its tree slots' attention than
clean agents of its role ever do.

A summary crafted to move its tree (inner-product manipulation, a latent PGD step) gains reach
by aligning with the slot queries, which shows in the forest's own attention before it shows in
anyone's action. The signal is the largest share of one tree slot's attention (over slots and
heads) an agent receives, in fair shares; the score is its robust z-score (median and MAD of the
log share) among clean agents of the same role.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from defenses.base import Detector, RoundSignals
from defenses.registry import register_defense
from forest.economy import ROLES
from forest.errors import InvalidInputError

MAD_TO_SIGMA = 1.4826  # a normal's standard deviation per median absolute deviation


def _log_share(signals: RoundSignals, name: str) -> np.ndarray:
    if signals.attention_share is None:
        raise InvalidInputError(f"{name}: the model reports no slot attention (a DenseForest?)")
    return np.log(np.maximum(signals.attention_share, 1e-12))


@register_defense
class AttentionConcentration(Detector):
    name = "attention-concentration"
    description = "robust z-score of the largest tree-slot attention share an agent receives"

    def fit(self, rounds: Sequence[RoundSignals]) -> None:
        shares = np.concatenate([_log_share(r, self.name) for r in rounds])
        roles = np.concatenate([r.roles for r in rounds])
        self.centre: dict[int, tuple[float, float]] = {}
        for role in np.unique(roles):
            rows = shares[roles == role]
            median = float(np.median(rows))
            spread = MAD_TO_SIGMA * float(np.median(np.abs(rows - median)))
            self.centre[int(role)] = (median, max(spread, 1e-6))

    def differentiable_score(
        self, summaries: torch.Tensor, roles: np.ndarray, log_shares: torch.Tensor
    ) -> torch.Tensor:
        centre = torch.tensor([self.centre[int(r)] for r in roles], dtype=log_shares.dtype)
        return (log_shares - centre[:, 0]) / centre[:, 1]

    def score(self, signals: RoundSignals) -> np.ndarray:
        shares = _log_share(signals, self.name)
        scores = np.empty(shares.shape[0])
        for role in np.unique(signals.roles):
            if int(role) not in self.centre:
                raise InvalidInputError(f"{self.name}: no clean data for role {ROLES[role]}")
            rows = signals.roles == role
            median, spread = self.centre[int(role)]
            scores[rows] = (shares[rows] - median) / spread
        return scores
