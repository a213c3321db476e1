"""The oracle of a latent attack's objective: the gain an attacker would reach if its influence
through the compressed latent had no limit (Carlini et al. 2019: an unbounded attack must reach
it, or something in the attack is broken).

What "no limit" means here: every honest agent's pooled context (the forest-level aggregate it
reads, ``model.heads``' second input) is set freely, and the compromised agents' own decisions
are set freely; the honest agents' own summaries stay clean, since no compromise of others
touches them within the round. The forest pools across trees, so every honest context is
reachable, not only those of the compromised agents' trees. The oracle is climbed with Adam from
the clean round; it is a lower estimate of the true supremum, which is why an attack may
exceed it.
"""

from __future__ import annotations

import torch

from attacks.base import AttackView
from attacks.latent import LatentRound, deployed_aggregation
from attacks.objectives import Objective

OWN_LOGIT_FLOOR = -30.0  # where the compromised agents' free logits start for masked classes


def oracle_gain(
    view: AttackView, lr: LatentRound, objective: Objective, steps: int = 500, lr_adam: float = 0.1
) -> float:
    """The best gain found with free honest contexts and free compromised decisions."""
    with torch.no_grad():
        context, _ = deployed_aggregation(view, lr.summaries, lr.tree_ids)
    honest = lr.honest
    free_context = context[honest].clone().requires_grad_(True)
    own = lr.clean_logits[~honest].nan_to_num(0.0, neginf=OWN_LOGIT_FLOOR)
    own = own.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([free_context, own], lr=lr_adam)
    best = -float("inf")
    for _ in range(steps):
        mixed = context.index_put((honest.nonzero()[:, 0],), free_context)
        logits, _, _ = view.model.heads(lr.summaries, mixed)
        logits = logits.index_put(((~honest).nonzero()[:, 0],), own)
        logits = logits.masked_fill(~lr.class_mask, float("-inf"))
        gain = objective.gain(logits, lr.clean_logits, lr.honest, lr.roles, lr.welfare)
        best = max(best, gain.item())
        optimiser.zero_grad()
        (-gain).backward()
        optimiser.step()
    return best
