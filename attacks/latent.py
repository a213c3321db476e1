"""White-box access to one round's compressed latent, shared by the latent-injection attacks.

``LatentRound`` is the round as the forest would play it without the attack: the clean summary
tokens, the trees, the clean action logits. ``logits_with_delta`` replays steps (b) and (c) of
the forest with a perturbation on the compromised agents' summaries, differentiably, so an
attacker can climb an objective's gradient (PGD). Budgets are L2 radii relative to the round's
typical summary norm (the median over agents), so that one epsilon means the same everywhere.

An adaptive attacker (one whose view carries the deployed defense) replays the forest as
deployed: with the defense's robust pooling and its aggregation weights, so its gradients and
line searches go through the robust aggregator rather than the plain one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from attacks.base import AttackParams, AttackView
from attacks.objectives import Objective
from forest.actions import classes_to_actions
from forest.economy import Economy
from forest.economy.base import WelfareSurrogate
from forest.model.aggregation import AggregationAttention
from forest.policy import action_class_mask
from forest.validation import require_float, require_int

EVADER_START = 0.05  # an evader's random start, as a share of the budget

# (k, d) compromised deltas, the replay's attention -> a scalar the attacker pays
Penalty = Callable[[torch.Tensor, AggregationAttention], torch.Tensor]


@dataclass(frozen=True)
class LatentRound:
    summaries: torch.Tensor  # (n, d) clean, detached
    tree_ids: torch.Tensor  # (n,)
    clean_logits: torch.Tensor  # (n, C), invalid classes at -inf
    class_mask: torch.Tensor  # (n, C) bool
    roles: torch.Tensor  # (n,)
    honest: torch.Tensor  # (n,) bool
    ids: torch.Tensor  # (k,) compromised agents
    welfare: WelfareSurrogate | None = None  # the round's welfare surrogate, if the economy has one

    @property
    def typical_norm(self) -> float:
        return float(torch.linalg.vector_norm(self.summaries, dim=1).median())


def deployed_aggregation(
    view: AttackView, summaries: torch.Tensor, tree_ids: torch.Tensor
) -> tuple[torch.Tensor, AggregationAttention]:
    """Step (b) as the attacker believes it runs: plain, or as the defense deploys it."""
    defense = view.defense
    if defense is None:
        return view.model.aggregate_with_attention(summaries, tree_ids)
    weights = defense.aggregation_weights(view.round, view.economy.n_agents)
    return view.model.aggregate_with_attention(
        summaries,
        tree_ids,
        None if weights is None else torch.from_numpy(weights.astype(np.float32)),
        defense.robust_aggregation(),
    )


def latent_round(view: AttackView) -> LatentRound:
    """Encode this round as the forest will (same inputs, same memory), without the attack."""
    model = view.model
    inputs = view.policy.model_inputs(view.economy)
    summaries = view.policy.encoded(inputs)
    with torch.no_grad():
        context, _ = deployed_aggregation(view, summaries, inputs["tree_ids"])
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
        welfare=welfare_over_classes(view.economy, logits.shape[1]),
    )


def welfare_over_classes(economy: Economy, n_classes: int) -> WelfareSurrogate | None:
    """The economy's welfare surrogate as a function of the model's (n, n_classes) action-class
    probabilities: each class's mass goes to the action it stands for (``classes_to_actions``:
    one class is ``action_unit`` of an action, e.g. half a unit ordered per retailer served)."""
    surrogate = economy.welfare_surrogate()
    if surrogate is None:
        return None
    classes = np.broadcast_to(np.arange(n_classes), (economy.n_agents, n_classes))
    index = torch.from_numpy(classes_to_actions(economy, classes))

    def welfare(class_probs: torch.Tensor) -> torch.Tensor:
        action_probs = class_probs.new_zeros(economy.n_agents, economy.n_actions)
        return surrogate(action_probs.scatter_add(1, index, class_probs))

    return welfare


def replay(
    view: AttackView, lr: LatentRound, delta: torch.Tensor
) -> tuple[torch.Tensor, AggregationAttention]:
    """(n, C) action logits when the compromised summaries get ``delta`` (k, d) added, and
    where the slots' attention went."""
    summaries = lr.summaries.index_add(0, lr.ids, delta)
    context, attention = deployed_aggregation(view, summaries, lr.tree_ids)
    logits, _, _ = view.model.heads(summaries, context)
    return logits.masked_fill(~lr.class_mask, float("-inf")), attention


def logits_with_delta(view: AttackView, lr: LatentRound, delta: torch.Tensor) -> torch.Tensor:
    """(n, C) action logits when the compromised summaries get ``delta`` (k, d) added."""
    return replay(view, lr, delta)[0]


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
    steps: int = 20  # gradient-ascent steps per round
    step_size: float = 0.25  # per step, relative to the budget
    # An adaptive attacker's price for exceeding the detector's threshold (attacks.adaptive)
    evasion_weight: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        require_float(self.epsilon, "epsilon", 0.0, 1e6)
        require_int(self.steps, "steps", 1, 10_000)
        require_float(self.step_size, "step_size", 0.0, 10.0, low_open=True)
        require_float(self.evasion_weight, "evasion_weight", 0.0, 1e6)


def pgd(
    view: AttackView,
    lr: LatentRound,
    objective: Objective,
    params: PGDParams,
    shared: bool = False,
    penalty: Penalty | None = None,
) -> torch.Tensor:
    """Projected gradient ascent on ``objective``'s gain; (k, d) rows within the budget.

    L2 steps along the normalised gradient from a random start inside the ball (Madry et al.
    2018); ``shared`` optimises one vector that every compromised agent adds (a universal
    token). The best iterate, not the last, is returned. ``penalty`` (an adaptive attacker's
    detector evasion term, ``attacks.adaptive``) is subtracted from the gain it climbs, and the
    attacker also runs an evader's schedule: from near the clean summary, where the detector is
    quiet, with annealed steps (fixed steps of a large budget overshoot the region it must stay
    in); it keeps whichever run scores better, so it is never weaker than the plain attack.
    """
    radius = params.epsilon * lr.typical_norm
    k, d = (1 if shared else lr.ids.numel()), lr.summaries.shape[1]
    start = project(torch.from_numpy(view.rng.standard_normal((k, d))).float()
                    * radius / np.sqrt(d), radius)  # fmt: skip
    runs = [(start, False)] if penalty is None else [(start, False), (start * EVADER_START, True)]
    best, best_score = start, -float("inf")
    for rows, annealed in runs:
        found, score = _ascend(view, lr, objective, params, shared, penalty, rows, annealed)
        if score > best_score:
            best, best_score = found, score
    return best


def _score(
    view: AttackView,
    lr: LatentRound,
    objective: Objective,
    shared: bool,
    penalty: Penalty | None,
    rows: torch.Tensor,
) -> torch.Tensor:
    """The objective's gain, net of the evasion penalty, with ``rows`` on the compromised."""
    delta = rows.expand(lr.ids.numel(), rows.shape[1]) if shared else rows
    logits, attention = replay(view, lr, delta)
    gain = objective.gain(logits, lr.clean_logits, lr.honest, lr.roles, lr.welfare)
    return gain if penalty is None else gain - penalty(delta, attention)


def _ascend(
    view: AttackView,
    lr: LatentRound,
    objective: Objective,
    params: PGDParams,
    shared: bool,
    penalty: Penalty | None,
    rows: torch.Tensor,
    annealed: bool,
) -> tuple[torch.Tensor, float]:
    """One PGD run from ``rows``: the best iterate and its score."""
    radius = params.epsilon * lr.typical_norm
    rows = rows.clone().requires_grad_(True)
    best, best_score = rows.detach().clone(), -float("inf")
    for step in range(params.steps):
        size = params.step_size * (1.0 - step / params.steps if annealed else 1.0)
        score = _score(view, lr, objective, shared, penalty, rows)
        (grad,) = torch.autograd.grad(score, rows)
        if score.item() > best_score:
            best, best_score = rows.detach().clone(), score.item()
        with torch.no_grad():
            norms = torch.linalg.vector_norm(grad, dim=1, keepdim=True).clamp_min(1e-12)
            rows = project(rows + size * radius * grad / norms, radius)
        rows.requires_grad_(True)
    with torch.no_grad():
        final = _score(view, lr, objective, shared, penalty, rows).item()
    return (rows.detach(), final) if final > best_score else (best, best_score)
