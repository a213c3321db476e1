"""The universal latent token, against the shipped small forest."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from budget import examples
from hypothesis import given, settings
from hypothesis import strategies as st

import attacks.universal_latent_token as universal
from attacks import AttackView, ThreatModel, make_attack
from attacks.latent import latent_round, logits_with_delta
from forest.economy import make_economy
from forest.errors import ConfigError
from forest.interventions import Interventions
from redteam.episodes import fresh_policy

NAME = "universal-latent-token"
N_AGENTS = 60
WARMUP = 3  # clean rounds first, so that the summaries carry the episode's history
WHITE_BOX = {"knowledge": "white-box"}


def _threat(economy):
    return ThreatModel(fraction=0.1).choose_agents(economy, np.random.default_rng(0))


def _view(world, round_=WARMUP, seed=0):
    economy, played, ids = world
    return AttackView(round_, economy, ids, played, np.random.default_rng(seed))


def test_universal_token_is_optimised_once_and_replayed_unchanged_every_later_round(
    policy, monkeypatch
):
    calls = []
    real = universal.pgd

    def counted(*args, **kwargs):
        calls.append(kwargs.get("shared"))
        return real(*args, **kwargs)

    monkeypatch.setattr(universal, "pgd", counted)
    economy = make_economy("supply_chain", 0, n_agents=N_AGENTS)
    played = fresh_policy(policy, use_router=True)
    ids = _threat(economy)
    attack = make_attack(NAME, {"start_round": 1}, WHITE_BOX)
    rng = np.random.default_rng(0)
    deltas = []
    for r in range(5):  # the harness's loop: the delta feeds the forest and the next memory
        delta = attack.summary_delta(AttackView(r, economy, ids, played, rng), 128)
        deltas.append(delta)
        step = played.act(economy, Interventions(summary_delta=delta))
        economy.step(step.actions, step.messages)
    assert deltas[0] is None
    assert calls == [True]  # one shared-vector PGD, at the first active round
    assert attack.optimised_at == 1
    token = deltas[1][ids[0]]
    assert float(torch.linalg.vector_norm(token)) > 0.0
    for delta in deltas[1:]:
        assert torch.equal(delta[torch.from_numpy(ids)], token.expand(ids.size, -1))
        assert torch.equal(delta, deltas[1])


def test_universal_token_leaves_honest_rows_exactly_zero(world):
    view = _view(world)
    delta = make_attack(NAME, {}, WHITE_BOX).summary_delta(view, 128)
    assert delta.shape == (N_AGENTS, 128)
    assert torch.count_nonzero(delta[torch.from_numpy(view.honest)]) == 0
    assert torch.count_nonzero(delta[torch.from_numpy(view.compromised)]) > 0


def test_universal_token_waits_for_its_start_round_and_needs_a_budget(world):
    attack = make_attack(NAME, {"start_round": WARMUP + 1}, WHITE_BOX)
    assert attack.summary_delta(_view(world, round_=WARMUP), 128) is None
    assert attack.token is None  # nothing optimised before the start
    assert attack.summary_delta(_view(world, round_=WARMUP + 1), 128) is not None
    assert make_attack(NAME, {"epsilon": 0.0}, WHITE_BOX).summary_delta(_view(world), 128) is None


@settings(max_examples=examples(10, fuzz=200))
@given(epsilon=st.floats(0.01, 2.0), seed=st.integers(0, 2**16))
def test_universal_token_norm_stays_within_epsilon_times_the_typical_summary_norm(
    world, epsilon, seed
):
    view = _view(world, seed=seed)
    attack = make_attack(NAME, {"epsilon": epsilon, "steps": 3}, WHITE_BOX)
    delta = attack.summary_delta(view, 128)
    budget = epsilon * latent_round(view).typical_norm
    lengths = torch.linalg.vector_norm(delta.double(), dim=1)
    assert float(lengths.max()) <= budget * (1 + 1e-4)
    assert float(lengths.max()) > 0.0


def test_universal_token_changes_honest_agents_action_logits_and_decisions(world):
    view = _view(world)
    delta = make_attack(NAME, {}, WHITE_BOX).summary_delta(view, 128)
    lr = latent_round(view)
    with torch.no_grad():
        logits = logits_with_delta(view, lr, delta[lr.ids])
    honest = lr.honest
    moved = (logits[honest] - lr.clean_logits[honest]).nan_to_num(0.0).abs()
    assert float(moved.max()) > 1e-3
    flipped = logits[honest].argmax(dim=1) != lr.clean_logits[honest].argmax(dim=1)
    assert int(flipped.sum()) > 0


def test_universal_token_is_registered_white_box_with_a_longer_pgd_by_default():
    attack = make_attack(NAME, {}, WHITE_BOX)
    assert (attack.surface, attack.knowledge) == ("summary tokens", "white-box")
    assert (attack.params.steps, attack.params.epsilon, attack.params.objective) == (
        40,
        0.5,
        "untargeted",
    )
    assert attack.token is None
    with pytest.raises(ConfigError, match="steps"):
        make_attack(NAME, {"steps": 0}, WHITE_BOX)
    with pytest.raises(ConfigError, match="white-box"):
        make_attack(NAME, {}, {"knowledge": "black-box"})
