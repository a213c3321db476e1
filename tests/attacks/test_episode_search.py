"""The episode-level attack's search (CMA-ES over a schedule of pushes), with a stand-in
oracle whose harm is a known function of the schedule, and played on the shipped forest."""

from __future__ import annotations

import numpy as np
import pytest

from attacks import AttackView, Plan, make_attack
from attacks.episode_search import EpisodeSearch
from attacks.latent import latent_round
from forest.economy import ROLE_ID
from forest.errors import InvalidInputError

ROLES = (ROLE_ID["supplier"], ROLE_ID["warehouse"], ROLE_ID["retailer"])
BEST = np.array([0.2, -0.8, 0.5, 0.0])  # the stand-in oracle's best weights in every stretch


class _Oracle:
    """Harm = minus the squared distance of the schedule from BEST: a known optimum."""

    rounds, roles = 20, ROLES

    def __init__(self) -> None:
        self.calls: list[tuple[np.ndarray, int]] = []

    def harm(self, attack: EpisodeSearch, episodes: int) -> float:
        self.calls.append((attack.schedule.copy(), episodes))
        return -float(((attack.schedule - BEST) ** 2).sum())


def _attack(**params) -> EpisodeSearch:
    return make_attack("latent-episode-search", params, {"knowledge": "white-box"})


def test_the_search_starts_from_the_one_round_harm_attack_and_keeps_its_budget():
    oracle = _Oracle()
    plan = _attack(queries=50, planning_seeds=2, population=6).plan(oracle)
    first, episodes = oracle.calls[0]
    assert (first[:, 0] == 1).all() and (first[:, 1:] == 0).all()
    assert episodes == 2
    assert plan.queries == 2 * len(oracle.calls) <= 50
    assert plan.harm == max(-((s - BEST) ** 2).sum() for s, _ in oracle.calls)


def test_the_search_improves_on_its_start_and_approaches_the_optimum():
    oracle = _Oracle()
    plan = _attack(queries=600, planning_seeds=1, segments=2).plan(oracle)
    start = -float(((np.array([1.0, 0, 0, 0]) - BEST) ** 2).sum() * 2)
    assert plan.harm > start / 10
    assert np.allclose(plan.policy["schedule"], np.tile(BEST, (2, 1)), atol=0.15)


def test_the_same_settings_plan_the_same_schedule():
    plans = [_attack(queries=40).plan(_Oracle()) for _ in range(2)]
    assert plans[0].policy == plans[1].policy


def test_an_unplanned_episode_attack_says_it_needs_the_harness(world):
    economy, played, ids = world
    view = AttackView(5, economy, ids, played, np.random.default_rng(0))
    with pytest.raises(InvalidInputError, match="plan"):
        _attack().summary_delta(view, played.model.config.hidden_size)


def test_an_adopted_plan_perturbs_only_the_compromised_within_budget(world):
    economy, played, ids = world
    attack = _attack(epsilon=0.5, start_round=0)
    schedule = [[1.0, 0.0, 0.5, -0.5]] * 4
    attack.adopt(Plan({"schedule": schedule, "roles": ["supplier", "warehouse", "retailer"],
                       "rounds": 10}, 0, 0.0, 0.0))  # fmt: skip
    view = AttackView(3, economy, ids, played, np.random.default_rng(0))
    delta = attack.summary_delta(view, played.model.config.hidden_size)
    honest = np.setdiff1d(np.arange(economy.n_agents), ids)
    assert delta[honest].abs().max() == 0
    norms = delta[ids].norm(dim=1)
    assert norms.max() > 0
    assert norms.max() <= 0.5 * latent_round(view).typical_norm * (1 + 1e-5)


def test_a_one_round_attack_has_no_plan():
    assert make_attack("latent-noise").plan(_Oracle()) is None
    with pytest.raises(InvalidInputError, match="no plan"):
        make_attack("latent-noise").adopt(Plan({}, 0, 0.0, 0.0))


def test_candidates_are_scored_with_the_planning_optimiser_and_the_plan_played_with_steps():
    seen = []

    class Recording(_Oracle):
        def harm(self, attack, episodes):
            seen.append(attack.params.steps)
            return super().harm(attack, episodes)

    attack = _attack(steps=80, planning_steps=10, queries=17, planning_seeds=1)
    attack.plan(Recording())
    assert set(seen) == {10} and attack.params.steps == 80
