"""An episode-level attack: a schedule of latent pushes, searched by CMA-ES with the economy in
the loop.

Every other latent attack chooses each round's perturbation for that round alone. Harm in an
economy accumulates across rounds (a supply chain's orders arrive rounds later, a starved
warehouse starves its retailers, over-orders swing back as bullwhip), so an attacker that plans
over the episode may do more with fewer agents. This one's policy is low-dimensional: the
attack window is cut into ``segments`` stretches, and in each the attacker climbs a weighted sum
of gains, every weight in [-1, 1]: the one-round ``harm`` objective's (the economy's welfare
surrogate) and, per role, that role's mean expected action (which way to move orders, prices or
bids, and how hard). Each round, PGD within the usual L2 budget climbs the stretch's sum.
CMA-ES (Hansen's ``cma``) searches the weights, scoring each candidate by the harm it does over
whole simulated episodes: the harness's oracle plays them on the attacker's own seeds, never on
the episodes it is measured on, under a budget of ``queries`` episodes, with ``planning_steps``
of PGD per round (a cheaper optimiser ranks schedules; the found one is played with ``steps``).
The search starts from, and scores first, the policy "harm alone, every stretch": the one-round
harm attack, so the plan is never worse on the attacker's episodes than that attack with the
same optimiser. The search's compute comes back
with every result (``Plan``). (``cma`` seeds numpy's global random generator; nothing here
draws from it.)
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, replace

import cma
import numpy as np
import torch

from attacks.base import Attack, AttackView, EpisodeOracle, Plan
from attacks.latent import PGDParams, full_delta, latent_round, pgd
from attacks.objectives import OBJECTIVES
from attacks.registry import register_attack
from forest.economy import ROLES
from forest.economy.base import WelfareSurrogate
from forest.errors import InvalidInputError
from forest.validation import require_float, require_int


@dataclass(frozen=True)
class EpisodeSearchParams(PGDParams):
    objective: str = "harm"
    steps: int = 10  # PGD steps per round, for the round's push
    # PGD steps per round in the simulated episodes that score candidates (None: ``steps``):
    # a cheaper optimiser ranks schedules; the found schedule is played with ``steps``.
    planning_steps: int | None = None
    segments: int = 4  # stretches of the attack window, each with its own push per role
    queries: int = 48  # simulated episodes the search may play: the attacker's compute
    planning_seeds: int = 2  # simulated episodes each candidate is scored on (their mean)
    population: int = 8  # CMA-ES candidates per generation
    spread: float = 0.5  # CMA-ES's initial step size, in push weights
    search_seed: int = 0  # CMA-ES's own random stream

    def __post_init__(self) -> None:
        super().__post_init__()
        require_int(self.segments, "segments", 1, 100)
        if self.planning_steps is not None:
            require_int(self.planning_steps, "planning_steps", 1, 10_000)
        require_int(self.planning_seeds, "planning_seeds", 1, 100)
        require_int(self.population, "population", 2, 1000)
        # The start, then at least one generation.
        least = (self.population + 1) * self.planning_seeds
        require_int(self.queries, "queries", least, 100_000)
        require_float(self.spread, "spread", 0.0, 2.0, low_open=True)
        require_int(self.search_seed, "search_seed", 0, 2**31 - 2)


@register_attack
class EpisodeSearch(Attack):
    name = "latent-episode-search"
    threat_tags = ("AML.T0043.000", "AML.T0031", "LLM08:2025", "ASI06", "ASI08")
    description = (
        "a per-role schedule of latent pushes over the episode, searched by CMA-ES with the "
        "simulator as oracle (episode-level)"
    )
    surface = "summary tokens"
    knowledge = "white-box"
    params_class = EpisodeSearchParams
    params: EpisodeSearchParams

    # (segments, 1 + roles) weights, once planned: on the harm gain, then on each role's push
    schedule: np.ndarray | None = None
    roles: tuple[int, ...] = ()
    rounds: int = 0

    def plan(self, oracle: EpisodeOracle) -> Plan:
        began = time.perf_counter()
        p = self.params
        one_round = np.zeros((p.segments, 1 + len(oracle.roles)))
        one_round[:, 0] = 1.0  # harm alone in every stretch
        best = one_round.ravel()
        best_harm = oracle.harm(self._with(best, oracle.roles, oracle.rounds), p.planning_seeds)
        played = p.planning_seeds
        search = cma.CMAEvolutionStrategy(
            best,
            p.spread,
            {"bounds": [-1.0, 1.0], "popsize": p.population, "seed": p.search_seed + 1,
             "verbose": -9},
        )  # fmt: skip
        while played + p.population * p.planning_seeds <= p.queries:
            candidates = search.ask()
            harms = []
            for x in candidates:
                harm = oracle.harm(self._with(x, oracle.roles, oracle.rounds), p.planning_seeds)
                harms.append(harm)
                if harm > best_harm:
                    best, best_harm = np.asarray(x), harm
            played += len(candidates) * p.planning_seeds
            search.tell(candidates, [-h for h in harms])  # CMA-ES minimises
        policy = {"schedule": best.reshape(p.segments, -1).tolist(),
                  "roles": [ROLES[r] for r in oracle.roles], "rounds": oracle.rounds}  # fmt: skip
        return Plan(policy, played, time.perf_counter() - began, float(best_harm))

    def adopt(self, plan: Plan) -> None:
        self.schedule = np.asarray(plan.policy["schedule"], dtype=np.float64)
        self.roles = tuple(ROLES.index(r) for r in plan.policy["roles"])
        self.rounds = int(plan.policy["rounds"])

    def _with(self, x: np.ndarray, roles: tuple[int, ...], rounds: int) -> EpisodeSearch:
        candidate = copy.copy(self)
        if self.params.planning_steps is not None:
            candidate.params = replace(self.params, steps=self.params.planning_steps)
        candidate.schedule = np.asarray(x).reshape(self.params.segments, 1 + len(roles))
        candidate.roles, candidate.rounds = roles, rounds
        return candidate

    def segment(self, round_: int) -> int:
        """Which stretch of the attack window ``round_`` falls in."""
        start, segments = self.first_round, self.params.segments
        return min(segments - 1, (round_ - start) * segments // max(self.rounds - start, 1))

    def summary_delta(self, view: AttackView, hidden_size: int) -> torch.Tensor | None:
        if not self.active(view.round) or self.params.epsilon == 0.0:
            return None
        if self.schedule is None:
            raise InvalidInputError(
                f"{self.name} plays a plan: the harness searches it first (Attack.plan)"
            )
        weights = self.schedule[self.segment(view.round)]
        if not np.any(weights):
            return None
        lr = latent_round(view)
        return full_delta(view, lr, pgd(view, lr, _Weighted(weights, self.roles), self.params))


@dataclass(frozen=True)
class _Weighted:
    """A stretch's gain: ``weights[0]`` times the harm objective's plus ``weights[1:]`` times
    each role's push (``Objective.gain``'s signature, so PGD climbs it as any objective)."""

    weights: np.ndarray
    roles: tuple[int, ...]

    def gain(
        self,
        logits: torch.Tensor,
        clean_logits: torch.Tensor,
        honest: torch.Tensor,
        roles: torch.Tensor,
        welfare: WelfareSurrogate | None = None,
    ) -> torch.Tensor:
        push = replace(
            OBJECTIVES["raise-actions"],
            push={ROLES[r]: float(w) for r, w in zip(self.roles, self.weights[1:], strict=True)},
        )
        total = push.gain(logits, clean_logits, honest, roles, welfare)
        if self.weights[0]:
            harm = OBJECTIVES["harm"].gain(logits, clean_logits, honest, roles, welfare)
            total = total + float(self.weights[0]) * harm
        return total
