"""Gaussian noise of a fixed L2 norm added to the compromised agents' summary tokens.

The crudest latent injection: no knowledge of the model, just write access to the compressed
latent of the agents the attacker holds. Because summaries are also each agent's memory for the
next round and feed the forest's slots, the noise reaches honest agents only through the
aggregation: exactly the path the article worries about.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from attacks.base import Attack, AttackParams, AttackView
from attacks.latent import latent_round
from attacks.registry import register_attack
from forest.validation import require_float


@dataclass(frozen=True)
class LatentNoiseParams(AttackParams):
    objective: str = "degrade"
    norm: float = 4.0  # L2 norm of each compromised agent's noise vector
    # If set, the norm is this share of the round's typical summary norm instead (the budget
    # unit of the white-box latent attacks, for comparisons at equal norm).
    epsilon: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        require_float(self.norm, "norm", 0.0, 1e6)
        if self.epsilon is not None:
            require_float(self.epsilon, "epsilon", 0.0, 1e6)


@register_attack
class LatentNoise(Attack):
    name = "latent-noise"
    threat_tags = ("AML.T0031", "LLM08:2025", "ASI06", "ASI08")
    description = "Gaussian noise of a given L2 norm added to compromised agents' summary tokens"
    surface = "summary tokens"
    params_class = LatentNoiseParams
    params: LatentNoiseParams

    def summary_delta(self, view: AttackView, hidden_size: int) -> torch.Tensor | None:
        if not self.active(view.round):
            return None
        ids = view.compromised
        norm = self.params.norm
        if self.params.epsilon is not None:
            norm = self.params.epsilon * latent_round(view).typical_norm
        noise = view.rng.standard_normal((ids.size, hidden_size))
        lengths = (noise**2).sum(axis=1, keepdims=True) ** 0.5
        delta = torch.zeros(view.economy.n_agents, hidden_size)
        delta[torch.from_numpy(ids)] = torch.from_numpy(norm * noise / lengths).float()
        return delta
