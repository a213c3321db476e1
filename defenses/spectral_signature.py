"""Spectral signatures (Tran, Li and Madry 2018) of summary tokens, per role.

The original method screens a data set for poisoned points: centre the representations being
screened, take the top right singular vector of the centred matrix, and score each point by
its squared projection onto it; a poisoned minority leaves a spectral signature along that
direction. Here the detector is fitted in advance on clean rounds and scores the rounds of
another episode one at a time, so it computes two scores per role and keeps the larger:

* clean directions: the top ``k`` right singular vectors of the centred clean summaries of the
  role (fitted in advance); score = squared norm of the projection of (summary - clean mean)
  onto them. This is *not* the original method: the directions are those of clean variation,
  so it catches summaries pushed far along the ways clean summaries already vary, and misses
  a shift orthogonal to every one of them.
* this round's direction, as in the paper: the top right singular vector of this round's
  summaries of the role, centred on this round's mean; score = squared projection of
  (summary - round mean) onto it. It follows a direction an attacker opens this round, but a
  round's direction is estimated from one round's agents of the role (12 suppliers in a
  120-agent supply chain), so clean rounds score high along it too; and a shift that moves every
  agent of the role alike moves the round mean and does not show here.

Each score is divided by its 99th percentile on the clean fit rounds (the clean-direction one
scored on the fit rows themselves; the round one computed round by round on the fit episode),
so that the two are on one scale before the maximum; ``calibrate`` then sets the flag
threshold on the maximum. A role with a single agent in a round has no round direction; its
round score is 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.linalg import svd

from defenses.base import Detector, DetectorParams, RoundSignals
from defenses.per_role import role_name
from defenses.registry import register_defense
from forest.errors import InvalidInputError
from forest.validation import require_int

NORMALISING_QUANTILE = 0.99  # each score is divided by its clean quantile at this level
_FLOOR = 1e-12  # a normaliser of a role whose clean scores are all 0


def _round_scores(rows: np.ndarray) -> np.ndarray:
    """Squared projection of each centred row on the top right singular vector of the rows."""
    if rows.shape[0] < 2:
        return np.zeros(rows.shape[0])
    centred = rows - rows.mean(axis=0)
    _, _, vt = svd(centred, full_matrices=False)
    return (centred @ vt[0]) ** 2


@dataclass(frozen=True)
class SpectralSignatureParams(DetectorParams):
    k: int = 1  # clean singular directions per role

    def __post_init__(self) -> None:
        super().__post_init__()
        require_int(self.k, "k", 1, 4096)


@dataclass(frozen=True)
class _RoleModel:
    mean: np.ndarray  # (d,) clean mean
    directions: np.ndarray  # (k, d) top right singular vectors of the centred clean rows
    clean_scale: float  # clean 99th percentile of the clean-direction score
    round_scale: float  # clean 99th percentile of the round-direction score


@register_defense
class SpectralSignature(Detector):
    name = "spectral-signature"
    description = (
        "spectral signature of summary tokens per role: projection on clean top-k singular "
        "directions or on the round's own top direction, whichever is larger"
    )
    params_class = SpectralSignatureParams
    params: SpectralSignatureParams

    def fit(self, rounds: Sequence[RoundSignals]) -> None:
        if not rounds:
            raise InvalidInputError(f"{self.name}: fit needs at least one clean round")
        summaries = np.concatenate([r.summaries for r in rounds]).astype(np.float64)
        roles = np.concatenate([r.roles for r in rounds])
        self.width = summaries.shape[1]
        k = self.params.k
        if k > self.width:
            raise InvalidInputError(
                f"{self.name}: k={k} directions exceed the summary width {self.width}"
            )
        self.models: dict[int, _RoleModel] = {}
        for role in np.unique(roles):
            rows = summaries[roles == role]
            if rows.shape[0] < k + 1:
                raise InvalidInputError(
                    f"{self.name}: role {role_name(int(role))} has {rows.shape[0]} clean "
                    f"sample(s); need k + 1 = {k + 1}"
                )
            mean = rows.mean(axis=0)
            _, _, vt = svd(rows - mean, full_matrices=False)
            directions = vt[:k]
            clean = np.sum(((rows - mean) @ directions.T) ** 2, axis=1)
            own = np.concatenate(
                [_round_scores(r.summaries[r.roles == role].astype(np.float64)) for r in rounds]
            )
            self.models[int(role)] = _RoleModel(
                mean=mean,
                directions=directions,
                clean_scale=max(float(np.quantile(clean, NORMALISING_QUANTILE)), _FLOOR),
                round_scale=max(float(np.quantile(own, NORMALISING_QUANTILE)), _FLOOR),
            )

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
            model = self.models.get(int(role))
            if model is None:
                raise InvalidInputError(
                    f"{self.name}: no clean data for role {role_name(int(role))}"
                )
            mask = signals.roles == role
            rows = summaries[mask]
            clean = np.sum(((rows - model.mean) @ model.directions.T) ** 2, axis=1)
            own = _round_scores(rows)
            scores[mask] = np.maximum(clean / model.clean_scale, own / model.round_scale)
        return scores
