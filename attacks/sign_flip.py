"""Sign flip: each compromised agent's summary token becomes ``-scale`` times its clean self.

The Byzantine baseline of robust aggregation (a worker sending its gradient negated), on the
forest's compressed latent: the compromised summaries point away from where the agents' own
encodings put them, so the tree slots pooling them, and every agent reading those slots, get
the opposite of what these agents would have contributed. The delta is
``-(1 + scale) * clean``. Since the aggregator RMS-normalises each summary, the slots see the
flipped direction whatever ``scale`` (default 1.0: the plain negation); the scale matters for
the budget, the compromised agent's own readout, and the memory it carries to the next round.

Budget: ``max_norm`` (default None, unbounded) caps each compromised agent's delta at that L2
norm relative to the round's typical summary norm (see ``attacks.alie.ReplacementParams``);
unbounded, the delta has ``1 + scale`` times the agent's summary norm.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from attacks.alie import ReplacementParams, replacement_delta
from attacks.base import Attack, AttackView
from attacks.latent import latent_round
from attacks.registry import register_attack
from forest.validation import require_float


@dataclass(frozen=True)
class SignFlipParams(ReplacementParams):
    scale: float = 1.0  # target = -scale * the agent's own clean summary

    def __post_init__(self) -> None:
        super().__post_init__()
        require_float(self.scale, "scale", 0.0, 1e6)


@register_attack
class SignFlip(Attack):
    name = "sign-flip"
    threat_tags = ("AML.T0043.000", "AML.T0031", "LLM08:2025", "ASI06", "ASI08")
    description = "compromised summaries replaced by -scale times their own clean summary"
    surface = "summary tokens"
    knowledge = "white-box"
    params_class = SignFlipParams
    params: SignFlipParams

    def summary_delta(self, view: AttackView, hidden_size: int) -> torch.Tensor | None:
        if not self.active(view.round):
            return None
        lr = latent_round(view)
        targets = -self.params.scale * lr.summaries[lr.ids]
        return replacement_delta(view, lr, targets, self.params.max_norm)
