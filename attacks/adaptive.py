"""What an adaptive attacker does with the defense it is shown (Tramer et al. 2020).

Two moves, both on the replay of the forest as deployed (robust pooling and aggregation weights
included, ``attacks.latent.deployed_aggregation``):

* Evasion: the attacker pays ``weight`` times how far its agents' detector scores go past 90% of
  the calibrated threshold. Detectors with a differentiable score (Mahalanobis, attention
  concentration) are evaded exactly; for the others (isolation forest, spectral signatures,
  temporal drift) the attacker differentiates a stand-in (BPDA, Athalye et al. 2018): the
  squared standardised distance of its summaries from this round's honest summaries of the same
  role, measured against the 90th percentile of that distance among honest agents.
* Line search: a replacement attack (ALIE, inner-product manipulation) tries a grid of
  strengths and keeps the one that gains most, net of the evasion penalty, against the
  deployed aggregator (a small shift slips through a trimmed mean where a large one is cut).
  ``expanding_search`` is ByzFL's search for its optimal ALIE and IPM instead of a grid.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from attacks.base import AttackView
from attacks.latent import LatentRound, Penalty, replay
from attacks.objectives import Objective
from forest.model.aggregation import AggregationAttention

MARGIN = 0.9  # stay this far under the threshold: a score right at it is a coin toss


def _log_shares(attention: AggregationAttention, ids: torch.Tensor) -> torch.Tensor:
    tree_size = attention.tree_index.bincount()[attention.tree_index]
    most = attention.agent_to_tree_slot.amax(dim=(1, 2)) * tree_size
    return most[ids].clamp_min(1e-12).log()


def evasion_penalty(view: AttackView, lr: LatentRound, weight: float) -> Penalty | None:
    """The evasion term for the detector behind ``view.defense``; None if there is none."""
    detector = None if view.defense is None else view.defense.detector
    if detector is None or weight == 0.0 or detector.threshold is None:
        return None
    roles = lr.roles[lr.ids].numpy()
    clean_rows = lr.summaries[lr.ids]

    def exact(delta: torch.Tensor, attention: AggregationAttention) -> torch.Tensor:
        scores = detector.differentiable_score(
            clean_rows + delta, roles, _log_shares(attention, lr.ids)
        )
        excess = torch.relu(scores - MARGIN * detector.threshold)
        return weight * (excess / max(abs(detector.threshold), 1e-6)).mean()

    probe = detector.differentiable_score(clean_rows, roles, torch.zeros(lr.ids.numel()))
    if probe is not None:
        return exact
    mean, std, reference = _honest_profile(lr)

    def surrogate(delta: torch.Tensor, attention: AggregationAttention) -> torch.Tensor:
        x = clean_rows + delta
        distance = (((x - mean[lr.roles[lr.ids]]) / std[lr.roles[lr.ids]]) ** 2).mean(dim=1)
        excess = torch.relu(distance - MARGIN * reference[lr.roles[lr.ids]])
        return weight * (excess / reference[lr.roles[lr.ids]]).mean()

    return surrogate


def _honest_profile(lr: LatentRound) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per role: the honest summaries' mean and std (role x d), and the 90th percentile of
    their own standardised squared distance (role,), this round."""
    n_roles = int(lr.roles.max()) + 1
    d = lr.summaries.shape[1]
    mean, std = torch.zeros(n_roles, d), torch.ones(n_roles, d)
    reference = torch.ones(n_roles)
    for role in range(n_roles):
        rows = lr.summaries[(lr.roles == role) & lr.honest]
        if rows.shape[0] < 2:
            continue
        mean[role], std[role] = rows.mean(dim=0), rows.std(dim=0).clamp_min(1e-6)
        distance = (((rows - mean[role]) / std[role]) ** 2).mean(dim=1)
        reference[role] = torch.quantile(distance, 0.9).clamp_min(1e-6)
    return mean, std, reference


def line_search(
    view: AttackView,
    lr: LatentRound,
    objective: Objective,
    candidates: Sequence[torch.Tensor],
    penalty: Penalty | None,
) -> torch.Tensor:
    """The candidate (k, d) target summaries with the highest gain net of ``penalty``."""
    best, best_gain = candidates[0], -np.inf
    for targets in candidates:
        gain = net_gain(view, lr, objective, targets, penalty)
        if gain > best_gain:
            best, best_gain = targets, gain
    return best


def net_gain(
    view: AttackView,
    lr: LatentRound,
    objective: Objective,
    targets: torch.Tensor,
    penalty: Penalty | None,
) -> float:
    """The objective's gain with the compromised summaries replaced by ``targets`` (k, d) on the
    forest as deployed, net of ``penalty``."""
    with torch.no_grad():
        delta = targets - lr.summaries[lr.ids]
        logits, attention = replay(view, lr, delta)
        gain = objective.gain(logits, lr.clean_logits, lr.honest, lr.roles, lr.welfare)
        if penalty is not None:
            gain = gain - penalty(delta, attention)
    return gain.item()


def expanding_search(
    evaluate: Callable[[float], float],
    start: float = 0.0,
    step: float = 10.0,
    ratio: float = 0.8,
    evals: int = 20,
) -> float:
    """The strength that ``evaluate`` rates best, found as ByzFL's optimal ALIE and IPM find
    theirs (tests/attacks/test_adaptive.py): from ``start``, step up while the rating improves,
    doubling the step each time; at the first step that does not improve, shrink it by
    ``ratio`` and keep trying ``best + step`` (moving to it when it improves), shrinking every
    time, until ``evals`` ratings have been spent."""
    best_x, best_y = start, evaluate(start)
    expanding = True  # until the first step that does not improve
    for _ in range(evals - 1):
        x = best_x + step
        y = evaluate(x)
        improved = y > best_y
        if improved:
            best_x, best_y = x, y
        expanding = expanding and improved
        step *= 2 if expanding else ratio
    return best_x
