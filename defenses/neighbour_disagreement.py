"""Neighbour disagreement: how far each agent's summary token sits from its neighbours'.

In the spirit of G-Safeguard (Wang et al. 2025), which finds the compromised agents of a
multi-agent system by anomaly detection on the graph of who talks to whom: an honest agent's
state moves with its neighbours', since they share the same world; a compromised one stands
apart from them. An agent's neighbours here are its tree (``RoundSignals.tree``): the agents
whose summaries the forest pools together. In every economy of this project the trees are
exactly the connected components of the interaction graph (a supplier with its warehouses and
retailers; a market), so they are the agents a compromised summary reaches first. The signals
carry trees, not edges: within a supply-chain tree a retailer is compared with its whole tree,
not only with its warehouse.

The score of an agent is the L2 distance between its summary and its tree's median summary
(coordinate-wise), less its role's clean mean of that distance, over the role's clean standard
deviation. The median, not the mean: a few compromised tree-mates cannot drag the reference, so
they neither hide one another nor get their honest tree-mates flagged. Roles are standardised
apart because a supplier sits further from its retailer-heavy tree's median than a retailer
does. Limits: in a tree of two (a pricing duopoly) the median is the pair's midpoint, so an
agent and its one neighbour always score alike; an agent alone in its tree is its own median
and scores as low as it can.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from defenses.base import Detector, RoundSignals
from defenses.per_role import role_name
from defenses.registry import register_defense
from forest.errors import InvalidInputError

_FLOOR = 1e-12  # the std of a role whose clean distances are all equal


def _trees(signals: RoundSignals, detector: str) -> np.ndarray:
    n = signals.roles.shape[0]
    if signals.tree is None:
        raise InvalidInputError(
            f"{detector}: round {signals.round} has no trees (a forest without tree slots); "
            "neighbours are the agents of a tree"
        )
    if signals.tree.shape != (n,):
        raise InvalidInputError(
            f"{detector}: expected one tree per agent, shape ({n},), got {signals.tree.shape}"
        )
    return signals.tree


def _distances_from_tree_median(summaries: np.ndarray, tree: np.ndarray) -> np.ndarray:
    """(n,) distance of each agent's summary from its tree's coordinate-wise median summary."""
    summaries = summaries.astype(np.float64)
    distances = np.empty(summaries.shape[0])
    for t in np.unique(tree):
        members = tree == t
        rows = summaries[members]
        distances[members] = np.linalg.norm(rows - np.median(rows, axis=0), axis=1)
    return distances


@dataclass(frozen=True)
class _RoleDisagreement:
    mean: float
    std: float


@register_defense
class NeighbourDisagreement(Detector):
    """Distance of each agent's summary from its tree's median summary, standardised per role
    on clean rounds (module docstring)."""

    name = "neighbour-disagreement"
    description = (
        "distance of each agent's summary token from its tree's median summary (the tree: its "
        "component of the interaction graph), standardised per role on clean rounds"
    )

    def fit(self, rounds: Sequence[RoundSignals]) -> None:
        if not rounds:
            raise InvalidInputError(f"{self.name}: fit needs at least one clean round")
        distances = np.concatenate(
            [_distances_from_tree_median(r.summaries, _trees(r, self.name)) for r in rounds]
        )
        roles = np.concatenate([r.roles for r in rounds])
        self.width = rounds[0].summaries.shape[1]
        self.models: dict[int, _RoleDisagreement] = {}
        for role in np.unique(roles):
            d = distances[roles == role]
            if d.shape[0] < 2:
                raise InvalidInputError(
                    f"{self.name}: role {role_name(int(role))} has {d.shape[0]} clean "
                    "sample(s); need 2"
                )
            self.models[int(role)] = _RoleDisagreement(float(d.mean()), max(float(d.std()), _FLOOR))

    def score(self, signals: RoundSignals) -> np.ndarray:
        if not hasattr(self, "models"):
            raise InvalidInputError(f"{self.name}: fit the detector before scoring")
        n = signals.roles.shape[0]
        if signals.summaries.ndim != 2 or signals.summaries.shape != (n, self.width):
            raise InvalidInputError(
                f"{self.name}: expected summaries of shape ({n}, {self.width}) (one row per "
                f"role entry), got {signals.summaries.shape}"
            )
        unseen = [int(r) for r in np.unique(signals.roles) if int(r) not in self.models]
        if unseen:
            raise InvalidInputError(f"{self.name}: no clean data for role {role_name(unseen[0])}")
        distances = _distances_from_tree_median(signals.summaries, _trees(signals, self.name))
        scores = np.empty(n)
        for role in np.unique(signals.roles):
            model = self.models[int(role)]
            mask = signals.roles == role
            scores[mask] = (distances[mask] - model.mean) / model.std
        return scores
