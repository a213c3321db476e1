"""PGD on the compressed latent: the strongest perturbation of the compromised agents' summary
tokens, within an L2 budget, for an objective, recomputed every round with the model's gradients.

``latent-pgd`` is untargeted (honest agents' decisions pulled as far as possible from what they
would have been); ``latent-pgd-targeted`` pushes honest agents toward chosen actions (higher
prices, over-ordering, starved retailers: any objective with a direction).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from attacks.adaptive import evasion_penalty
from attacks.base import Attack, AttackView
from attacks.latent import PGDParams, full_delta, latent_round, pgd
from attacks.objectives import OBJECTIVES
from attacks.registry import register_attack
from forest.errors import ConfigError


@register_attack
class LatentPGD(Attack):
    name = "latent-pgd"
    threat_tags = ("AML.T0043.000", "AML.T0031", "LLM08:2025", "ASI06", "ASI08")
    description = "white-box PGD on compromised summary tokens, recomputed every round"
    surface = "summary tokens"
    knowledge = "white-box"
    params_class = PGDParams
    params: PGDParams

    def summary_delta(self, view: AttackView, hidden_size: int) -> torch.Tensor | None:
        if not self.active(view.round) or self.params.epsilon == 0.0:
            return None
        lr = latent_round(view)
        # Shown the defense (an adaptive threat), it also pays for being detected.
        penalty = evasion_penalty(view, lr, self.params.evasion_weight)
        return full_delta(view, lr, pgd(view, lr, self.objective, self.params, penalty=penalty))


@dataclass(frozen=True)
class TargetedPGDParams(PGDParams):
    objective: str = "raise-actions"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not OBJECTIVES[self.objective].push:
            raise ConfigError(
                f"objective: a targeted attack needs an objective with a direction; "
                f"{self.objective!r} has none"
            )


@register_attack
class LatentPGDTargeted(LatentPGD):
    name = "latent-pgd-targeted"
    threat_tags = ("AML.T0043.000", "AML.T0031", "LLM08:2025", "ASI06", "ASI08")
    description = "white-box PGD pushing honest agents toward chosen actions (e.g. higher prices)"
    params_class = TargetedPGDParams
