"""The certified share of a defended clean episode: every round, which agents' decisions no
``k`` compromised agents per tree could have changed (``defenses.certification``).

Measured on the defended twin, the decisions an attack would have to change; only under a
pooling the certificate has a bound for (median or trimmed mean with a share cap), NaN
elsewhere, so that a missing bound never reads as a certified share of 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from defenses.certification import certify
from forest.actions import valid_classes
from forest.economy import Economy
from forest.economy.base import RoundResult
from forest.model import ForestModel
from forest.model.robust_aggregation import RobustAggregation
from redteam.episodes import Played


@dataclass
class CertifiedDecisions:
    """An episode observer: (R, n) whether each agent's decision was certified at ``k``, and
    the class each certificate vouches for (the deployed forest's own decision)."""

    model: ForestModel
    pooling: RobustAggregation
    k: int
    certified: list[np.ndarray] = field(default_factory=list)
    chosen: list[np.ndarray] = field(default_factory=list)

    def before_step(self, round_: int, economy: Economy, played: Played) -> None:
        output = played.step.output
        n_classes = output.action_logits.shape[1]
        cert = certify(
            self.model,
            output.summaries.float(),
            torch.from_numpy(economy.tree_ids()),
            self.pooling,
            self.k,
            torch.from_numpy(valid_classes(economy, n_classes)),
        )
        self.certified.append(cert.certified)
        self.chosen.append(cert.chosen)

    def after_step(
        self, round_: int, economy: Economy, played: Played, result: RoundResult
    ) -> None:
        pass
