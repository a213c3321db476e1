"""Inner-product manipulation (Xie et al. 2020, "Fall of Empires"), on the summary tokens.

Xie et al.'s attackers send ``-epsilon * mean(honest gradients)``: a vector whose inner product
with the honest mean is negative, so the aggregate descends in the wrong direction. A *small*
epsilon (the paper's 0.1) is what slips past robust aggregators (Krum, the coordinate-wise
median): the malicious vectors stay short and close to the honest cluster, yet the aggregate's
inner product with the true direction turns negative; a large epsilon (e.g. 100) only beats the
plain mean. Here each compromised agent's summary is *replaced* by ``-scale * mu``, ``mu`` the
mean clean summary this round of the honest agents of its own tree (the slots it is pooled with)
if the tree has one, else of the honest agents of its role, else of all honest agents.

``scale`` is the paper's epsilon, default 0.1. Note that the forest's aggregator RMS-normalises
every summary before the slots attend to it, so the slots (and through them the honest agents)
see the direction ``-mu`` whatever the scale; the scale sets the delta's size (the budget), the
compromised agent's own readout and the memory it carries into the next round.

Adaptive (shown the defense): the target is line-searched along the path from the agent's
clean summary to ``-scale * mu`` against the deployed aggregator and detector.

Budget: ``max_norm`` (default None, unbounded) caps each compromised agent's delta at that L2
norm relative to the round's typical summary norm (see ``attacks.alie.ReplacementParams``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from attacks.adaptive import evasion_penalty, line_search
from attacks.alie import (
    EVASION_WEIGHT,
    LINE_SEARCH,
    ReplacementParams,
    replacement_delta,
    tree_peers,
)
from attacks.base import Attack, AttackView
from attacks.latent import LatentRound, latent_round
from attacks.registry import register_attack
from forest.validation import require_float


@dataclass(frozen=True)
class IPMParams(ReplacementParams):
    scale: float = 0.1  # the paper's epsilon: target = -scale * honest mean

    def __post_init__(self) -> None:
        super().__post_init__()
        require_float(self.scale, "scale", 0.0, 1e6)


@register_attack
class InnerProductManipulation(Attack):
    name = "inner-product-manipulation"
    threat_tags = ("AML.T0043.000", "AML.T0031", "LLM08:2025", "ASI06", "ASI08")
    description = (
        "compromised summaries replaced by -scale times the honest mean of their tree "
        "(inner product with the honest mean turned negative)"
    )
    surface = "summary tokens"
    knowledge = "white-box"
    params_class = IPMParams
    params: IPMParams

    def targets(self, view: AttackView, lr: LatentRound) -> torch.Tensor:
        """(k, d) ``-scale * mean`` of each compromised agent's honest tree (or role) peers."""
        rows = []
        for i in view.compromised:
            peers = torch.from_numpy(tree_peers(view, lr, i))
            rows.append(-self.params.scale * lr.summaries[peers].mean(dim=0))
        return torch.stack(rows)

    def summary_delta(self, view: AttackView, hidden_size: int) -> torch.Tensor | None:
        if not self.active(view.round):
            return None
        lr = latent_round(view)
        targets = self.targets(view, lr)
        if view.defense is not None:
            # Adaptive: the slots RMS-normalise summaries, so the scale alone changes nothing
            # they see; the search is over how far to turn from the clean summary toward -mu.
            clean = lr.summaries[lr.ids]
            candidates = [clean + f * (targets - clean) for f in LINE_SEARCH if f <= 1.0]
            penalty = evasion_penalty(view, lr, EVASION_WEIGHT)
            targets = line_search(view, lr, self.objective, candidates, penalty)
        return replacement_delta(view, lr, targets, self.params.max_norm)
