"""Mimic (Karimireddy et al. 2022): each compromised agent sends an honest agent's summary.

In federated learning, Mimic's attackers all copy one honest worker. Nothing they send is an
outlier, so no robust aggregator or detector can single them out, yet the copied worker's
direction gains ``k`` extra votes: under heterogeneity that biases the aggregate toward one
worker's idiosyncrasy. Here each compromised agent's summary is *replaced* by the clean summary
of one honest agent of its own tree (of its role, else of everyone, where the tree has no
honest agent): by default the one Karimireddy et al.'s heuristic picks, the honest agent lying
furthest along the first principal direction of the group's centred summaries (the direction
of most disagreement, which the extra votes then tip); with ``target = i``, the group's ``i``-th
honest agent in id order, as ByzFL's ``Mimic(epsilon=i)`` does (tests).

Budget: ``max_norm`` (default None, unbounded) caps each compromised agent's delta at that L2
norm relative to the round's typical summary norm (see ``attacks.alie.ReplacementParams``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from attacks.alie import ReplacementParams, replacement_delta, tree_peers
from attacks.base import Attack, AttackView
from attacks.latent import LatentRound, latent_round
from attacks.registry import register_attack
from forest.validation import require_int


@dataclass(frozen=True)
class MimicParams(ReplacementParams):
    # Which honest agent of the group to copy, in id order (wrapping around a smaller group);
    # None: the one furthest along the group's first principal direction.
    target: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.target is not None:
            require_int(self.target, "target", 0, 1_000_000)


def most_divergent(summaries: torch.Tensor) -> int:
    """Row of ``summaries`` (m, d) furthest along their first principal direction (the sign
    fixed so that the extreme is the largest projection's magnitude); 0 for a single row."""
    if summaries.shape[0] < 2:
        return 0
    centred = (summaries - summaries.mean(dim=0)).double()
    _, _, vh = torch.linalg.svd(centred, full_matrices=False)
    return int((centred @ vh[0]).abs().argmax())


@register_attack
class Mimic(Attack):
    name = "mimic"
    threat_tags = ("AML.T0043.000", "AML.T0031", "LLM08:2025", "ASI06", "ASI08")
    description = "compromised summaries replaced by one honest tree peer's clean summary"
    surface = "summary tokens"
    knowledge = "white-box"
    params_class = MimicParams
    params: MimicParams

    def targets(self, view: AttackView, lr: LatentRound) -> torch.Tensor:
        """(k, d) the copied honest peer's clean summary, per compromised agent."""
        rows = []
        for i in view.compromised:
            group = lr.summaries[torch.from_numpy(np.flatnonzero(tree_peers(view, lr, i)))]
            target = self.params.target
            pick = most_divergent(group) if target is None else target % group.shape[0]
            rows.append(group[pick])
        return torch.stack(rows)

    def summary_delta(self, view: AttackView, hidden_size: int) -> torch.Tensor | None:
        if not self.active(view.round):
            return None
        lr = latent_round(view)
        return replacement_delta(view, lr, self.targets(view, lr), self.params.max_norm)
