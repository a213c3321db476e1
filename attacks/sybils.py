"""Sybils: fake agents that join the forest's aggregation with crafted summaries.

The attacker adds ``count`` agents that exist only in the compressed latent: they have no
inventory, no market, no actions, just a summary token in a tree of its choosing, and the slots
attend to them like to anyone else. Each episode the sybils pick their trees at random (or the
trees of the attacker's own agents) and start as copies of honest summaries from those trees, so
they look like members; every active round their summaries are optimised by PGD on the
objective, projected to at most ``max_norm`` times the typical summary norm, the budget that
keeps them plausible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from attacks.base import Attack, AttackView
from attacks.latent import LatentRound, PGDParams, latent_round, project
from attacks.registry import register_attack
from forest.errors import ConfigError
from forest.validation import require, require_float, require_int

PLACEMENT = ("random", "attacker")


@dataclass(frozen=True)
class SybilParams(PGDParams):
    count: int = 10  # sybils joining (the budget)
    max_norm: float = 1.5  # each sybil summary's L2 norm, relative to the typical summary norm
    placement: str = "random"  # trees: at random, or those of the attacker's own agents

    def __post_init__(self) -> None:
        super().__post_init__()
        require_int(self.count, "count", 1, 1_000_000)
        require_float(self.max_norm, "max_norm", 0.0, 1e6, low_open=True)
        require(self.placement in PLACEMENT, "placement", f"one of {PLACEMENT}", self.placement)


def sybil_logits(
    view: AttackView, lr: LatentRound, fakes: torch.Tensor, trees: torch.Tensor
) -> torch.Tensor:
    """(n, C) real agents' action logits with the sybils in the aggregation."""
    pool = torch.cat([lr.summaries, fakes])
    context = view.model.aggregate(pool, torch.cat([lr.tree_ids, trees]))[: lr.summaries.shape[0]]
    logits, _, _ = view.model.heads(lr.summaries, context)
    return logits.masked_fill(~lr.class_mask, float("-inf"))


@register_attack
class Sybils(Attack):
    name = "sybils"
    threat_tags = ("AML.T0043.000", "AML.T0031", "LLM08:2025", "ASI03", "ASI06")
    description = "fake agents join the forest aggregation with PGD-crafted summaries"
    surface = "population"
    knowledge = "white-box"
    params_class = SybilParams
    params: SybilParams

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.trees: torch.Tensor | None = None
        self.seeds: torch.Tensor | None = None  # the honest agents the sybils started as

    def _place(self, view: AttackView, lr: LatentRound) -> None:
        trees = lr.tree_ids.numpy()
        if self.params.placement == "attacker":
            pool = np.unique(trees[view.compromised])
        else:
            pool = np.unique(trees)
        chosen = view.rng.choice(pool, size=self.params.count, replace=True)
        members = [np.flatnonzero((trees == t) & view.honest) for t in chosen]
        if any(m.size == 0 for m in members):
            raise ConfigError("placement: a sybil's tree has no honest agent to copy")
        self.trees = torch.from_numpy(chosen.astype(np.int64))
        self.seeds = torch.from_numpy(np.array([view.rng.choice(m) for m in members]))

    def sybils(
        self, view: AttackView, hidden_size: int
    ) -> tuple[torch.Tensor, torch.Tensor] | None:
        if not self.active(view.round):
            return None
        lr = latent_round(view)
        if self.trees is None:
            self._place(view, lr)
        radius = self.params.max_norm * lr.typical_norm
        fakes = project(lr.summaries[self.seeds].clone(), radius).requires_grad_(True)
        best, best_gain = fakes.detach().clone(), -float("inf")
        step = self.params.step_size * radius
        for _ in range(self.params.steps):
            logits = sybil_logits(view, lr, fakes, self.trees)
            gain = self.objective.gain(logits, lr.clean_logits, lr.honest, lr.roles, lr.welfare)
            (grad,) = torch.autograd.grad(gain, fakes)
            if gain.item() > best_gain:
                best, best_gain = fakes.detach().clone(), gain.item()
            with torch.no_grad():
                norms = torch.linalg.vector_norm(grad, dim=1, keepdim=True).clamp_min(1e-12)
                fakes = project(fakes + step * grad / norms, radius)
            fakes.requires_grad_(True)
        with torch.no_grad():
            final = self.objective.gain(
                sybil_logits(view, lr, fakes, self.trees),
                lr.clean_logits,
                lr.honest,
                lr.roles,
                lr.welfare,
            ).item()
        return (fakes.detach() if final > best_gain else best), self.trees
