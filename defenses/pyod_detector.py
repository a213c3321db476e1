"""Any of pyod's classical outlier detectors on summary tokens, one model per role.

pyod (Zhao, Nasrullah and Li 2019) keeps dozens of maintained detectors behind one interface:
``fit`` on clean rows, then ``decision_function``, higher for more anomalous rows. The detector
here is chosen by its pyod class name (``model``) among those in ``SUPPORTED``: the ones that
need no required arguments and no optional extras, score rows against the clean fit (not against
the scored batch alone), are deterministic given ``seed``, and, on the shipped forest's
supply-chain summaries, held their calibrated false-positive rate on a held-out seed within
twice the target and caught points planted ten clean standard deviations out. Left out: deep
models that train a network (AutoEncoder, DIF, LUNAR, ...), the GAN-based ones (not reproducible
from a seed), those needing extras (combo, suod, xgboost) or a target (CD), the univariate MAD;
COF, SOD and SOS, which score a batch against itself rather than against the fit (a round's
dozen suppliers are no reference); MCD, LMDD, ROD and LOCI (minutes at a summary width of 128 on
a few thousand rows); and ABOD, QMCD and HDBSCAN, which missed the planted points. KPCA is
quadratic in the fit rows: for small fits only.

Roles differ (a supplier's summary is not a retailer's), so each role gets its own model,
fitted on that role's clean summaries only. Some models (ECOD, COPOD) score a batch against the
fit rows and the batch together; a batch here is one round's agents of one role, in
``calibrate`` as in ``score``, so the threshold is set on scores made the way they are used.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from defenses.base import Detector, DetectorParams, RoundSignals
from defenses.registry import register_defense
from forest.economy import ROLES
from forest.errors import InvalidInputError
from forest.validation import require, require_int

# pyod class name -> its module under pyod.models
SUPPORTED = {
    "CBLOF": "cblof",
    "COPOD": "copod",
    "ECOD": "ecod",
    "GMM": "gmm",
    "HBOS": "hbos",
    "IForest": "iforest",
    "INNE": "inne",
    "KDE": "kde",
    "KNN": "knn",
    "KPCA": "kpca",
    "LODA": "loda",
    "LOF": "lof",
    "OCSVM": "ocsvm",
    "PCA": "pca",
    "Sampling": "sampling",
}


def _role_name(role: int) -> str:
    return ROLES[role] if 0 <= role < len(ROLES) else f"id {role}"


@dataclass(frozen=True)
class PyodParams(DetectorParams):
    model: str = "ECOD"  # the pyod detector's class name, one of SUPPORTED (module docstring)
    seed: int = 0  # random_state of the models that draw at random; the others ignore it

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.model in SUPPORTED, "model", f"one of {', '.join(SUPPORTED)}", self.model)
        require_int(self.seed, "seed", 0, 2**32 - 1)


def _pyod_model(name: str, seed: int) -> Any:
    """An unfitted pyod model of class ``name``, seeded where it draws at random. Imported here,
    not with the package: numba's compilation stays off ``import defenses``."""
    model_class = getattr(importlib.import_module(f"pyod.models.{SUPPORTED[name]}"), name)
    takes_seed = "random_state" in inspect.signature(model_class).parameters
    return model_class(random_state=seed) if takes_seed else model_class()


@register_defense
class Pyod(Detector):
    """A pyod outlier detector (``model``) on summary tokens, fitted per role on clean rounds."""

    name = "pyod"
    description = "a pyod outlier detector (ECOD by default) on summary tokens, one per role"
    params_class = PyodParams
    params: PyodParams

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
                    f"{self.name}: role {_role_name(int(role))} has {rows.shape[0]} clean "
                    "sample(s); need 2"
                )
            model = _pyod_model(self.params.model, self.params.seed)
            self.models[int(role)] = model.fit(rows)

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
                    f"{self.name}: no clean data for role {_role_name(int(role))}"
                )
            rows = signals.roles == role
            scores[rows] = self.models[int(role)].decision_function(summaries[rows])
        return scores
