"""Sanity checks that the white-box latent optimiser works (Carlini et al. 2019, section 5):
it beats random noise of the same norm, more budget never hurts, more steps change little (it
converged), and it never leaves its budget."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from budget import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from attacks import OBJECTIVES, AttackView, RoundOutcome, make_attack
from attacks.latent import PGDParams, latent_round, logits_with_delta, pgd
from forest.checkpoints import load_policy
from forest.economy import make_economy
from forest.interventions import Interventions
from redteam.episodes import fresh_policy

CHECKPOINT = Path(__file__).parents[2] / "checkpoints" / "small"
COMPROMISED = np.array([3, 17, 40, 52])


@pytest.fixture(scope="module")
def view() -> AttackView:
    """Round 6 of a supply chain of 60 agents played by the shipped forest (memory warm)."""
    policy = load_policy(CHECKPOINT)
    economy = make_economy("supply_chain", 0, n_agents=60)
    for _ in range(6):
        step = policy.act(economy)
        economy.step(step.actions, step.messages)
    return AttackView(6, economy, COMPROMISED, policy, np.random.default_rng(0))


def _gain(view, lr, objective, rows):
    logits = logits_with_delta(view, lr, rows)
    return objective.gain(logits, lr.clean_logits, lr.honest, lr.roles).item()


def _pgd(view, objective="untargeted", **params):
    lr = latent_round(view)
    rng = np.random.default_rng(1)
    fresh = AttackView(view.round, view.economy, view.compromised, view.policy, rng)
    rows = pgd(fresh, lr, OBJECTIVES[objective], PGDParams(objective=objective, **params))
    return lr, rows


def test_pgd_beats_every_one_of_50_random_directions_of_the_same_norm(view):
    lr, rows = _pgd(view, epsilon=0.5)
    objective = OBJECTIVES["untargeted"]
    radius = 0.5 * lr.typical_norm
    rng = np.random.default_rng(2)
    noise_gains = []
    for _ in range(50):
        noise = torch.from_numpy(rng.standard_normal(rows.shape)).float()
        noise = noise * radius / torch.linalg.vector_norm(noise, dim=1, keepdim=True)
        noise_gains.append(_gain(view, lr, objective, noise))
    assert _gain(view, lr, objective, rows) > 2 * max(noise_gains)


def test_more_budget_never_gives_a_weaker_attack(view):
    gains = []
    for epsilon in (0.1, 0.3, 1.0, 3.0):
        lr, rows = _pgd(view, epsilon=epsilon)
        gains.append(_gain(view, lr, OBJECTIVES["untargeted"], rows))
    assert all(b >= a * 0.98 for a, b in itertools.pairwise(gains)), gains
    assert gains[-1] > 2 * gains[0]


def test_doubling_the_steps_changes_the_gain_by_little(view):
    lr, rows20 = _pgd(view, epsilon=0.5, steps=20)
    _, rows40 = _pgd(view, epsilon=0.5, steps=40)
    g20 = _gain(view, lr, OBJECTIVES["untargeted"], rows20)
    g40 = _gain(view, lr, OBJECTIVES["untargeted"], rows40)
    assert abs(g40 - g20) <= 0.15 * g40


@settings(max_examples=examples(10, fuzz=200), deadline=None)
@given(epsilon=st.floats(0.0, 5.0), steps=st.integers(1, 4))
def test_pgd_rows_never_leave_their_budget(view, epsilon, steps):
    lr, rows = _pgd(view, epsilon=epsilon, steps=steps)
    norms = torch.linalg.vector_norm(rows, dim=1)
    assert bool((norms <= epsilon * lr.typical_norm * (1 + 1e-5) + 1e-6).all())


@settings(max_examples=examples(10, fuzz=200), deadline=None)
@given(epsilon=st.floats(0.0, 5.0))
def test_latent_attacks_touch_only_compromised_rows_within_budget(view, epsilon):
    for name in ("latent-pgd", "latent-noise"):
        attack = make_attack(name, {"epsilon": epsilon, **({"steps": 2} if "pgd" in name else {})},
                             {"knowledge": "white-box"})  # fmt: skip
        delta = attack.summary_delta(view, view.model.config.hidden_size)
        if delta is None:
            assert epsilon == 0.0
            continue
        norms = torch.linalg.vector_norm(delta, dim=1)
        honest = torch.from_numpy(view.honest)
        assert bool((norms[honest] == 0).all())
        budget = epsilon * latent_round(view).typical_norm
        assert bool((norms <= budget * (1 + 1e-5) + 1e-6).all())


def test_an_unbounded_budget_reaches_full_targeted_success_where_context_decides(policy):
    """Carlini et al.'s check that the attack is not broken: with the budget unbounded and
    enough of the forest compromised, a targeted push moves every honest agent. Pricing is the
    economy whose decisions read the forest's context (rivals' prices); half the firms are
    compromised, since the slots RMS-normalise summaries and one agent's pull is bounded."""
    economy = make_economy("pricing", 0, n_agents=60)
    forest = fresh_policy(policy, True)
    for _ in range(4):
        step = forest.act(economy)
        economy.step(step.actions, step.messages)
    threat = {"fraction": 0.5, "knowledge": "white-box"}
    attack = make_attack("latent-pgd-targeted", {"epsilon": 100.0, "steps": 40}, threat)
    compromised = attack.threat.choose_agents(economy, np.random.default_rng(0))
    view = AttackView(4, economy, compromised, forest, np.random.default_rng(1))
    delta = attack.summary_delta(view, policy.model.config.hidden_size)
    clean, attacked = fresh_policy(policy, True), fresh_policy(policy, True)
    clean.memory = attacked.memory = forest.memory
    twin = clean.act(economy).actions
    pushed = attacked.act(economy, Interventions(summary_delta=delta)).actions
    honest = np.ones(60, dtype=bool)
    honest[compromised] = False
    outcome = RoundOutcome(4, honest, economy.role, pushed, twin, np.ones(60), np.ones(60),
                           economy.action_unit())  # fmt: skip
    moved = (pushed - twin)[honest] / economy.action_unit()[honest]
    assert attack.succeeded(outcome)
    assert (moved > 0.5).mean() >= 0.9
