"""Adaptive attackers: shown the defense, PGD trades damage for staying under the detector's
threshold, replacement attacks pick their strength against the deployed aggregator, and the
replay they optimise is the forest as deployed (robust pooling included)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from byzfl_reference import byzfl_module

from attacks import OBJECTIVES, AttackView, make_attack
from attacks.adaptive import evasion_penalty, expanding_search, line_search, net_gain
from attacks.latent import PGDParams, latent_round, logits_with_delta, pgd
from defenses import make_defense, round_signals
from forest.economy import make_economy
from forest.interventions import Interventions
from redteam.counterfactual import clean_signals
from redteam.episodes import fresh_policy

COMPROMISED = np.array([3, 17, 40, 52])


@pytest.fixture(scope="module")
def played(policy):
    """Round 6 of a 60-agent supply chain, and a Mahalanobis detector fitted and calibrated on
    two other seeds."""
    detector = make_defense("mahalanobis", {"target_fpr": 0.01})
    for seed, step in ((1, detector.fit), (2, detector.calibrate)):
        step(clean_signals(make_economy("supply_chain", seed, n_agents=60),
                           fresh_policy(policy, True), 12))  # fmt: skip
    economy = make_economy("supply_chain", 0, n_agents=60)
    forest = fresh_policy(policy, True)
    for _ in range(6):
        step = forest.act(economy)
        economy.step(step.actions, step.messages)
    return economy, forest, detector


def _view(played, defense=None, seed=1):
    economy, forest, _ = played
    rng = np.random.default_rng(seed)
    return AttackView(6, economy, COMPROMISED, forest, rng, defense)


def _scores(played, view, rows):
    economy, forest, detector = played
    lr = latent_round(view)
    delta = torch.zeros_like(lr.summaries)
    delta[lr.ids] = rows
    step = fresh_policy(forest, True)
    step.memory = forest.memory
    out = step.act(economy, Interventions(summary_delta=delta))
    return detector.score(round_signals(6, out.output, economy.role, out.actions))[COMPROMISED]


def test_detector_aware_pgd_stays_under_the_threshold_where_plain_pgd_does_not(played):
    detector = played[2]
    params = PGDParams(epsilon=2.0, steps=30, evasion_weight=100.0)
    plain_view, adaptive_view = _view(played), _view(played, detector)
    objective = OBJECTIVES["untargeted"]
    plain = pgd(plain_view, latent_round(plain_view), objective, params)
    lr = latent_round(adaptive_view)
    penalty = evasion_penalty(adaptive_view, lr, params.evasion_weight)
    adaptive = pgd(adaptive_view, lr, objective, params, penalty=penalty)
    plain_scores = _scores(played, plain_view, plain)
    adaptive_scores = _scores(played, adaptive_view, adaptive)
    assert (plain_scores > detector.threshold).mean() >= 0.75
    assert (adaptive_scores <= detector.threshold).mean() >= 0.75
    assert adaptive_scores.mean() < 0.5 * plain_scores.mean()


def test_no_penalty_without_a_detector_or_for_a_non_adaptive_view(played):
    lr = latent_round(_view(played))
    assert evasion_penalty(_view(played), lr, 1.0) is None
    aggregation = make_defense("robust-aggregation")
    assert evasion_penalty(_view(played, aggregation), lr, 1.0) is None


def test_line_search_returns_the_candidate_with_the_highest_gain(played):
    view = _view(played, make_defense("robust-aggregation", {"method": "median"}))
    lr = latent_round(view)
    clean = lr.summaries[lr.ids]
    direction = -lr.summaries.mean(dim=0)
    candidates = [clean + f * (direction - clean) for f in (0.1, 0.4, 0.7, 1.0)]
    objective = OBJECTIVES["untargeted"]
    gains = [
        objective.gain(
            logits_with_delta(view, lr, c - clean), lr.clean_logits, lr.honest, lr.roles
        ).item()
        for c in candidates
    ]
    chosen = line_search(view, lr, objective, candidates, penalty=None)
    assert torch.equal(chosen, candidates[int(np.argmax(gains))])


def test_an_adaptive_attacker_replays_the_robust_aggregator_it_is_shown(played):
    median = make_defense("robust-aggregation", {"method": "median"})
    plain_lr, robust_lr = latent_round(_view(played)), latent_round(_view(played, median))
    assert torch.equal(plain_lr.summaries, robust_lr.summaries)
    assert not torch.equal(plain_lr.clean_logits, robust_lr.clean_logits)


def test_adaptive_alie_shown_a_detector_picks_a_strength_under_its_threshold(played):
    # At z_max the replaced summaries of some attackers sit far outside the Mahalanobis
    # screen's threshold; shown the screen, the line search trades strength for staying under.
    detector = played[2]
    attack = make_attack("alie", {}, {"knowledge": "white-box", "adaptive": True})
    plain_view, adaptive_view = _view(played), _view(played, detector)
    plain = attack.summary_delta(plain_view, 32)
    adaptive = attack.summary_delta(adaptive_view, 32)
    assert plain is not None and adaptive is not None
    ids = latent_round(plain_view).ids
    plain_scores = _scores(played, plain_view, plain[ids])
    adaptive_scores = _scores(played, adaptive_view, adaptive[ids])
    assert (plain_scores > detector.threshold).any()
    assert (adaptive_scores <= detector.threshold).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("attack", ["ALittleIsEnough", "InnerProductManipulation"])
def test_the_expanding_search_is_byzfls_search_for_its_optimal_alie_and_ipm(attack, seed):
    """Rated by ByzFL's own objective (how far the aggregate lands from the honest mean), the
    search picks the strength ByzFL's optimal attack picks: the same Byzantine vector."""
    attacks, aggregators = byzfl_module("attacks"), byzfl_module("aggregators")
    honest = np.random.default_rng(seed).normal(size=(15, 6))
    for aggregate in (aggregators.TrMean(f=3), aggregators.Median(), aggregators.Krum(f=3)):
        optimal = getattr(attacks, f"Optimal_{attack}")(agg=aggregate, pre_agg_list=[], f=3)
        strength = expanding_search(
            lambda tau, o=optimal: o._evaluate(honest, honest.mean(axis=0), tau)
        )
        ours = getattr(attacks, attack)(tau=float(strength))(honest)
        np.testing.assert_array_equal(ours, optimal(honest))


def test_alie_with_the_expanding_search_keeps_its_best_rated_strength(played):
    view = _view(played)
    attack = make_attack("alie", {"search": "expanding", "search_evals": 12},
                         {"knowledge": "white-box"})  # fmt: skip
    delta = attack.summary_delta(view, 32)
    lr = latent_round(view)
    rated = {}

    def rating(z):
        rated[z] = net_gain(view, lr, attack.objective, attack.targets(view, lr, z), None)
        return rated[z]

    best = expanding_search(rating, 0.0, attack.z(view), evals=12)
    assert rated[best] > rated[0.0]  # the search found a strength that does something
    torch.testing.assert_close(delta[lr.ids], attack.targets(view, lr, best) - lr.summaries[lr.ids])
