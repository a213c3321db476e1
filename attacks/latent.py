"""White-box access to one round's compressed latent, shared by the latent-injection attacks.

``LatentRound`` is the round as the forest would play it without the attack: the clean summary
tokens, the trees, the clean action logits. ``logits_with_delta`` replays steps (b) and (c) of
the forest with a perturbation on the compromised agents' summaries, differentiably, so an
attacker can climb an objective's gradient (PGD). Budgets are L2 radii relative to the round's
typical summary norm (the median over agents), so that one epsilon means the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from attacks.base import AttackParams, AttackView
from attacks.objectives import Objective
from forest.policy import action_class_mask
from forest.validation import require_float, require_int


@dataclass(frozen=True)
class LatentRound:
    summaries: torch.Tensor  # (n, d) clean, detached
    tree_ids: torch.Tensor  # (n,)
    clean_logits: torch.Tensor  # (n, C), invalid classes at -inf
    class_mask: torch.Tensor  # (n, C) bool
    roles: torch.Tensor  # (n,)
    honest: torch.Tensor  # (n,) bool
    ids: torch.Tensor  # (k,) compromised agents

    @property
    def typical_norm(self) -> float:
        return float(torch.linalg.vector_norm(self.summaries, dim=1).median())


def latent_round(view: AttackView) -> LatentRound:
    """Encode this round as the forest will (same inputs, same memory), without the attack."""
    model = view.model
    inputs = view.policy.model_inputs(view.economy)
    with torch.no_grad():
        summaries = model.encode(
            inputs["input_ids"], inputs["attention_mask"], inputs["role_ids"], inputs["memory"]
        )
        context = model.aggregate(summaries, inputs["tree_ids"])
        logits, _, _ = model.heads(summaries, context)
    mask = action_class_mask(view.economy, logits.shape[1])
    return LatentRound(
        summaries=summaries,
        tree_ids=inputs["tree_ids"],
        clean_logits=logits.masked_fill(~mask, float("-inf")),
        class_mask=mask,
        roles=torch.from_numpy(view.economy.role),
        honest=torch.from_numpy(view.honest),
        ids=torch.from_numpy(view.compromised),
    )


def logits_with_delta(view: AttackView, lr: LatentRound, delta: torch.Tensor) -> torch.Tensor:
    """(n, C) action logits when the compromised summaries get ``delta`` (k, d) added."""
    summaries = lr.summaries.index_add(0, lr.ids, delta)
    context = view.model.aggregate(summaries, lr.tree_ids)
    logits, _, _ = view.model.heads(summaries, context)
    return logits.masked_fill(~lr.class_mask, float("-inf"))


def project(delta: torch.Tensor, radius: float) -> torch.Tensor:
    """Each row onto the L2 ball of ``radius``."""
    norms = torch.linalg.vector_norm(delta, dim=-1, keepdim=True)
    return delta * torch.clamp(radius / norms.clamp_min(1e-12), max=1.0)


def full_delta(view: AttackView, lr: LatentRound, rows: torch.Tensor) -> torch.Tensor:
    """The (n, d) ``summary_delta`` the forest takes, zero outside the compromised agents."""
    delta = torch.zeros_like(lr.summaries)
    delta[lr.ids] = rows.detach()
    return delta


@dataclass(frozen=True)
class PGDParams(AttackParams):
    epsilon: float = 0.5  # L2 budget per compromised agent, relative to the typical summary norm
    steps: int = 20
    step_size: float = 0.25  # per step, relative to the budget

    def __post_init__(self) -> None:
        super().__post_init__()
        require_float(self.epsilon, "epsilon", 0.0, 1e6)
        require_int(self.steps, "steps", 1, 10_000)
        require_float(self.step_size, "step_size", 0.0, 10.0, low_open=True)


def pgd(
    view: AttackView,
    lr: LatentRound,
    objective: Objective,
    params: PGDParams,
    shared: bool = False,
) -> torch.Tensor:
    """Projected gradient ascent on ``objective``'s gain; (k, d) rows within the budget.

    L2 steps along the normalised gradient from a random start inside the ball (Madry et al.
    2018); ``shared`` optimises one vector that every compromised agent adds (a universal
    token). The best iterate, not the last, is returned.
    """
    radius = params.epsilon * lr.typical_norm
    k, d = (1 if shared else lr.ids.numel()), lr.summaries.shape[1]
    start = torch.from_numpy(view.rng.standard_normal((k, d))).float()
    rows = project(start * radius / np.sqrt(d), radius).requires_grad_(True)
    best, best_gain = rows.detach().clone(), -float("inf")
    for _ in range(params.steps):
        delta = rows.expand(lr.ids.numel(), d) if shared else rows
        logits = logits_with_delta(view, lr, delta)
        gain = objective.gain(logits, lr.clean_logits, lr.honest, lr.roles)
        (grad,) = torch.autograd.grad(gain, rows)
        if gain.item() > best_gain:
            best, best_gain = rows.detach().clone(), gain.item()
        with torch.no_grad():
            norms = torch.linalg.vector_norm(grad, dim=1, keepdim=True).clamp_min(1e-12)
            rows = project(rows + params.step_size * radius * grad / norms, radius)
        rows.requires_grad_(True)
    with torch.no_grad():
        delta = rows.expand(lr.ids.numel(), d) if shared else rows
        final = float(objective.gain(logits_with_delta(view, lr, delta), lr.clean_logits,
                                     lr.honest, lr.roles))  # fmt: skip
    return rows.detach() if final > best_gain else best
