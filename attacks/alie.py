"""A Little Is Enough (Baruch et al. 2019), moved from gradients to the forest's summary tokens.

In federated learning, ALIE's attackers send ``mu - z * sigma``: the honest workers' mean
shifted by a few standard deviations, coordinate by coordinate. The shift is small enough to sit
inside the honest spread (robust aggregators keep it) yet, since every attacker sends the same
point, it moves the aggregate steadily. Here the workers are the agents, the updates are the
summary tokens the forest's slots attend over, and ``mu``/``sigma`` are the coordinate-wise mean
and (population) standard deviation of this round's clean summaries of the honest agents with
the compromised agent's role (all honest agents if the role has fewer than two). Each
compromised agent's summary is *replaced* by that point: the delta is ``target - clean``.

``z`` defaults to the paper's ``z_max``: with ``n`` agents and ``k`` attackers, the attackers
need ``s = floor(n / 2 + 1) - k`` honest agents "on their side" for a majority, and
``z_max = Phi^-1((n - s) / n)`` is the largest shift that many honest agents still lie beyond
(``s`` is clamped to at least 1, so that an attacker majority gives a finite ``z``).

Budget: ``max_norm`` (default None, unbounded) caps each compromised agent's delta at that L2
norm relative to the round's typical summary norm (the median over agents, the budget unit of
``attacks.latent``); a capped delta points toward the ALIE target but stops at the ball.

Adaptive (shown the defense): ``z`` is line-searched over ``LINE_SEARCH`` fractions of it
against the deployed aggregator and detector (``attacks.adaptive``). With ``search =
"expanding"``, ``z`` is instead found by ByzFL's search for its optimal ALIE (from 0, steps of
``z_max``, ``attacks.adaptive.expanding_search``), rated by the attack's objective on the forest
as deployed (with the evasion penalty when shown a detector), defense or not.

This module also holds what the replacement attacks (ALIE, inner-product manipulation, sign
flip) share: their budget parameter and the delta from per-agent target summaries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import norm

from attacks.adaptive import evasion_penalty, expanding_search, line_search, net_gain
from attacks.base import Attack, AttackParams, AttackView
from attacks.latent import LatentRound, full_delta, latent_round, project
from attacks.registry import register_attack
from forest.errors import ConfigError
from forest.validation import require_float, require_int

# Strengths an adaptive replacement attack tries, as fractions of its configured one
LINE_SEARCH = (0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.5)
EVASION_WEIGHT = 1.0
SEARCHES = ("grid", "expanding")


@dataclass(frozen=True)
class ReplacementParams(AttackParams):
    """Parameters of an attack that replaces compromised summaries by chosen targets."""

    # L2 cap on each compromised agent's delta, relative to the round's typical summary norm
    # (attacks.latent.LatentRound.typical_norm); None: no cap, the target is reached exactly.
    max_norm: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_norm is not None:
            require_float(self.max_norm, "max_norm", 0.0, 1e6)


def replacement_delta(
    view: AttackView, lr: LatentRound, targets: torch.Tensor, max_norm: float | None
) -> torch.Tensor:
    """The (n, d) summary delta that turns the compromised agents' clean summaries into
    ``targets`` (k, d), each row projected onto the ``max_norm`` budget if one is set."""
    rows = targets - lr.summaries[lr.ids]
    if max_norm is not None:
        rows = project(rows, max_norm * lr.typical_norm)
    return full_delta(view, lr, rows)


def peer_group(candidates: list[tuple[np.ndarray, int]], fallback: np.ndarray) -> np.ndarray:
    """The first ``(mask, min_size)`` of ``candidates`` whose (n,) bool mask holds at least
    ``min_size`` agents, else ``fallback``: whose clean summaries an attacker imitates."""
    for mask, min_size in candidates:
        if int(mask.sum()) >= min_size:
            return mask
    return fallback


def tree_peers(view: AttackView, lr: LatentRound, agent: int) -> np.ndarray:
    """(n,) bool: the honest agents of ``agent``'s tree, else of its role, else all honest ones
    (whose clean summaries the tree-level replacement attacks, IPM and Mimic, read)."""
    honest, roles, trees = view.honest, view.economy.role, lr.tree_ids.numpy()
    candidates = [(honest & (trees == trees[agent]), 1), (honest & (roles == roles[agent]), 1)]
    return peer_group([*candidates, (honest, 1)], np.ones_like(honest))


def alie_z_max(n_agents: int, n_attackers: int) -> float:
    """Baruch et al.'s ``z_max = Phi^-1((n - s) / n)``, ``s = floor(n / 2 + 1) - k`` (>= 1)."""
    s = max(math.floor(n_agents / 2 + 1) - n_attackers, 1)
    return float(norm.ppf((n_agents - s) / n_agents))


@dataclass(frozen=True)
class ALIEParams(ReplacementParams):
    # Shift in honest standard deviations; None: the paper's z_max for this n and k.
    z: float | None = None
    # "grid": z as given (a grid of fractions of it when shown a defense); "expanding": z found
    # by ByzFL's optimal-ALIE search, in steps of z, with ``search_evals`` ratings.
    search: str = "grid"
    search_evals: int = 20  # ratings the expanding search may spend

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.z is not None:
            require_float(self.z, "z", -1000.0, 1000.0)
        if self.search not in SEARCHES:
            raise ConfigError(f"search: expected one of {', '.join(SEARCHES)}, got {self.search!r}")
        require_int(self.search_evals, "search_evals", 1, 10_000)


@register_attack
class ALIE(Attack):
    name = "alie"
    threat_tags = ("AML.T0043.000", "AML.T0031", "LLM08:2025", "ASI06", "ASI08")
    description = (
        "A Little Is Enough: compromised summaries replaced by the honest same-role mean "
        "minus z standard deviations"
    )
    surface = "summary tokens"
    knowledge = "white-box"
    params_class = ALIEParams
    params: ALIEParams

    def z(self, view: AttackView) -> float:
        if self.params.z is not None:
            return self.params.z
        return alie_z_max(view.economy.n_agents, int(view.compromised.size))

    def targets(self, view: AttackView, lr: LatentRound, z: float) -> torch.Tensor:
        """(k, d) ``mu - z * sigma`` of each compromised agent's honest peers."""
        honest = view.honest
        everyone = np.ones_like(honest)
        roles = view.economy.role
        rows = []
        for i in view.compromised:
            peers = peer_group([(honest & (roles == roles[i]), 2), (honest, 2)], everyone)
            group = lr.summaries[torch.from_numpy(peers)]
            mu, sigma = group.mean(dim=0), group.std(dim=0, correction=0)
            rows.append(mu - z * sigma)
        return torch.stack(rows)

    def summary_delta(self, view: AttackView, hidden_size: int) -> torch.Tensor | None:
        if not self.active(view.round):
            return None
        lr = latent_round(view)
        z = self.z(view)
        if self.params.search == "expanding":
            targets = self._expanding(view, lr, z)
        elif view.defense is None:
            targets = self.targets(view, lr, z)
        else:  # adaptive: the shift that does most against the deployed aggregator
            candidates = [self.targets(view, lr, z * f) for f in LINE_SEARCH]
            penalty = evasion_penalty(view, lr, EVASION_WEIGHT)
            targets = line_search(view, lr, self.objective, candidates, penalty)
        return replacement_delta(view, lr, targets, self.params.max_norm)

    def _expanding(self, view: AttackView, lr: LatentRound, z: float) -> torch.Tensor:
        """Targets at the ``z`` ByzFL's search rates best on the forest as deployed."""
        penalty = evasion_penalty(view, lr, EVASION_WEIGHT)

        def rating(strength: float) -> float:
            targets = self.targets(view, lr, strength)
            return net_gain(view, lr, self.objective, targets, penalty)

        strength = expanding_search(rating, 0.0, z, evals=self.params.search_evals)
        return self.targets(view, lr, strength)
