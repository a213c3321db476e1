"""Temporal drift: how far each agent's summary token moved since the last round.

An agent's summary changes every round as its state does, and by about as much as its clean
peers' of the same role; an injected summary, or an agent whose behaviour is suddenly taken
over, jumps. The score of an agent is the L2 distance between its summary this round and its
own summary last round, standardised by the mean and standard deviation of that distance among
clean agents of the same role: ``(distance - clean mean) / clean std``.

Agents are identified by their index in the round's arrays, which is stable within an episode.
The detector keeps last round's summaries on the object: ``reset()`` forgets them and is called
before every episode; the first round of an episode has no previous summary and scores 0.
Rounds must come in order, one at a time (round ``r + 1`` after round ``r``); anything else is
an error rather than a distance between the wrong rounds.

``fit`` takes clean rounds in order (one episode, consecutive rounds). A round whose number is
not one more than the previous round's, or whose agent count differs, starts a new episode
there, so several episodes can be concatenated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from defenses.base import Detector, RoundSignals
from defenses.registry import register_defense
from forest.economy import ROLES
from forest.errors import InvalidInputError

_FLOOR = 1e-12  # the std of a role whose clean distances are all equal


def _role_name(role: int) -> str:
    return ROLES[role] if 0 <= role < len(ROLES) else f"id {role}"


def _follows(previous: RoundSignals, current: RoundSignals) -> bool:
    return (
        current.round == previous.round + 1
        and current.summaries.shape == previous.summaries.shape
        and np.array_equal(current.roles, previous.roles)
    )


def _distances(previous: RoundSignals, current: RoundSignals) -> np.ndarray:
    step = current.summaries.astype(np.float64) - previous.summaries.astype(np.float64)
    return np.linalg.norm(step, axis=1)


@dataclass(frozen=True)
class _RoleDrift:
    mean: float
    std: float


@register_defense
class TemporalDrift(Detector):
    name = "temporal-drift"
    description = (
        "distance of each agent's summary token from its own last round's, standardised "
        "per role on clean episodes"
    )

    def fit(self, rounds: Sequence[RoundSignals]) -> None:
        distances, roles = [], []
        for previous, current in pairwise(rounds):
            if _follows(previous, current):
                distances.append(_distances(previous, current))
                roles.append(current.roles)
        if not distances:
            raise InvalidInputError(
                f"{self.name}: fit needs clean rounds in order, at least two consecutive "
                "rounds of one episode"
            )
        all_distances = np.concatenate(distances)
        all_roles = np.concatenate(roles)
        self.width = rounds[0].summaries.shape[1]
        self.models: dict[int, _RoleDrift] = {}
        for role in np.unique(all_roles):
            d = all_distances[all_roles == role]
            if d.shape[0] < 2:
                raise InvalidInputError(
                    f"{self.name}: role {_role_name(int(role))} has {d.shape[0]} clean "
                    "round-to-round distance(s); need 2"
                )
            self.models[int(role)] = _RoleDrift(float(d.mean()), max(float(d.std()), _FLOOR))
        self.reset()

    def reset(self) -> None:
        self._previous: RoundSignals | None = None

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
            raise InvalidInputError(f"{self.name}: no clean data for role {_role_name(unseen[0])}")
        previous = self._previous
        if previous is not None and not _follows(previous, signals):
            raise InvalidInputError(
                f"{self.name}: round {signals.round} ({n} agents) does not follow round "
                f"{previous.round} ({previous.roles.shape[0]} agents) with the same agents "
                "and roles; rounds of an episode come in order, and reset() starts a new one"
            )
        # A copy: the caller may reuse its arrays, and last round must stay as it was.
        self._previous = RoundSignals(
            signals.round, signals.summaries.copy(), signals.roles.copy(), signals.actions
        )
        if previous is None:
            return np.zeros(n)
        distances = _distances(previous, signals)
        scores = np.empty(n)
        for role in np.unique(signals.roles):
            model = self.models[int(role)]
            mask = signals.roles == role
            scores[mask] = (distances[mask] - model.mean) / model.std
        return scores
