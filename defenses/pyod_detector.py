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
from dataclasses import dataclass
from typing import Any

import numpy as np

from defenses.base import DetectorParams
from defenses.per_role import PerRoleModelDetector
from defenses.registry import register_defense
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
class Pyod(PerRoleModelDetector):
    """A pyod outlier detector (``model``) on summary tokens, fitted per role on clean rounds."""

    name = "pyod"
    description = "a pyod outlier detector (ECOD by default) on summary tokens, one per role"
    params_class = PyodParams
    params: PyodParams

    def new_model(self) -> Any:
        return _pyod_model(self.params.model, self.params.seed)

    def anomaly(self, model: Any, rows: np.ndarray) -> np.ndarray:
        return model.decision_function(rows)
