"""ALIE on the summary tokens, against the shipped small forest."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from budget import examples
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from attacks import AttackView, make_attack
from attacks.alie import alie_z_max
from attacks.latent import latent_round, logits_with_delta
from forest.economy import ROLE_ID
from forest.errors import ConfigError

N_AGENTS = 60
WARMUP = 3  # clean rounds first, so that agents of one role no longer share one state
WHITE_BOX = {"knowledge": "white-box"}


def _view(world, ids=None, round_=WARMUP):
    economy, played, chosen = world
    ids = chosen if ids is None else np.asarray(ids)
    return AttackView(round_, economy, ids, played, np.random.default_rng(0))


def _honest_stats(lr, mask):
    group = lr.summaries[torch.from_numpy(mask)].double()
    return group.mean(dim=0), group.std(dim=0, correction=0)


def test_alie_replaces_compromised_summaries_by_role_mean_minus_z_max_sigma(world):
    view = _view(world)
    delta = make_attack("alie", {}, WHITE_BOX).summary_delta(view, 128)
    lr = latent_round(view)
    k = view.compromised.size
    z = norm.ppf((N_AGENTS - (math.floor(N_AGENTS / 2 + 1) - k)) / N_AGENTS)
    roles = view.economy.role
    for i in view.compromised:
        mu, sigma = _honest_stats(lr, view.honest & (roles == roles[i]))
        replaced = (lr.summaries[i] + delta[i]).double()
        torch.testing.assert_close(replaced, mu - z * sigma, rtol=1e-5, atol=1e-5)


def test_alie_z_max_follows_the_paper_formula_and_clamps_an_attacker_majority():
    assert alie_z_max(60, 6) == pytest.approx(norm.ppf(35 / 60))  # s = 31 - 6 = 25
    assert alie_z_max(50, 12) == pytest.approx(norm.ppf(36 / 50))  # s = 14
    assert alie_z_max(60, 1) == pytest.approx(0.0)  # s = n/2: a bare majority, no shift
    assert alie_z_max(10, 8) == pytest.approx(norm.ppf(9 / 10))  # s < 1 clamped to 1
    assert all(np.isfinite(alie_z_max(n, k)) for n in (2, 7, 60) for k in range(1, n + 1))


def test_alie_explicit_z_overrides_z_max(world):
    view = _view(world)
    lr = latent_round(view)
    delta = make_attack("alie", {"z": 1.5}, WHITE_BOX).summary_delta(view, 128)
    roles = view.economy.role
    for i in view.compromised:
        mu, sigma = _honest_stats(lr, view.honest & (roles == roles[i]))
        replaced = (lr.summaries[i] + delta[i]).double()
        torch.testing.assert_close(replaced, mu - 1.5 * sigma, rtol=1e-5, atol=1e-5)


def test_alie_falls_back_to_all_honest_agents_when_fewer_than_two_honest_share_the_role(world):
    economy = world[0]
    suppliers = np.flatnonzero(economy.role == ROLE_ID["supplier"])
    view = _view(world, ids=suppliers[:-1])  # one honest supplier left: no spread to imitate
    lr = latent_round(view)
    delta = make_attack("alie", {"z": 1.0}, WHITE_BOX).summary_delta(view, 128)
    mu, sigma = _honest_stats(lr, view.honest)
    for i in view.compromised:
        replaced = (lr.summaries[i] + delta[i]).double()
        torch.testing.assert_close(replaced, mu - sigma, rtol=1e-5, atol=1e-5)


def test_alie_leaves_honest_rows_exactly_zero(world):
    view = _view(world)
    delta = make_attack("alie", {}, WHITE_BOX).summary_delta(view, 128)
    assert delta.shape == (N_AGENTS, 128)
    assert torch.count_nonzero(delta[torch.from_numpy(view.honest)]) == 0
    assert torch.count_nonzero(delta[torch.from_numpy(view.compromised)]) > 0


def test_alie_waits_for_its_start_round(world):
    attack = make_attack("alie", {"start_round": WARMUP + 1}, WHITE_BOX)
    assert attack.summary_delta(_view(world, round_=WARMUP), 128) is None
    assert attack.summary_delta(_view(world, round_=WARMUP + 1), 128) is not None


@settings(max_examples=examples(10, fuzz=200))
@given(max_norm=st.floats(0.0, 0.5))
def test_alie_delta_rows_stay_within_max_norm_times_the_typical_summary_norm(world, max_norm):
    view = _view(world)
    delta = make_attack("alie", {"max_norm": max_norm}, WHITE_BOX).summary_delta(view, 128)
    budget = max_norm * latent_round(view).typical_norm
    lengths = torch.linalg.vector_norm(delta.double(), dim=1)
    assert float(lengths.max()) <= budget * (1 + 1e-4) + 1e-12


def test_alie_budget_scales_the_delta_onto_the_ball_keeping_its_direction(world):
    view = _view(world)
    free = make_attack("alie", {}, WHITE_BOX).summary_delta(view, 128)[view.compromised]
    capped = make_attack("alie", {"max_norm": 0.05}, WHITE_BOX).summary_delta(view, 128)
    radius = 0.05 * latent_round(view).typical_norm
    lengths = torch.linalg.vector_norm(free, dim=1, keepdim=True)
    assert float(lengths.max()) > radius  # the cap binds on some row
    expected = free * torch.clamp(radius / lengths, max=1.0)
    torch.testing.assert_close(capped[view.compromised], expected, rtol=1e-5, atol=1e-6)


def test_alie_changes_honest_agents_action_logits_through_the_aggregation(world):
    view = _view(world)
    delta = make_attack("alie", {}, WHITE_BOX).summary_delta(view, 128)
    lr = latent_round(view)
    with torch.no_grad():
        logits = logits_with_delta(view, lr, delta[lr.ids])
    honest = lr.honest
    moved = (logits[honest] - lr.clean_logits[honest]).nan_to_num(0.0).abs()
    assert float(moved.max()) > 1e-3


def test_alie_is_registered_white_box_on_the_summary_tokens_and_validates_its_params():
    attack = make_attack("alie", {}, WHITE_BOX)
    assert (attack.surface, attack.knowledge) == ("summary tokens", "white-box")
    assert (attack.params.z, attack.params.max_norm, attack.params.objective) == (
        None,
        None,
        "untargeted",
    )
    with pytest.raises(ConfigError, match="max_norm"):
        make_attack("alie", {"max_norm": -1.0}, WHITE_BOX)
    with pytest.raises(ConfigError, match="white-box"):
        make_attack("alie", {}, {"knowledge": "black-box"})


def test_alie_refuses_an_unknown_search():
    with pytest.raises(ConfigError, match="search: expected one of grid, expanding"):
        make_attack("alie", {"search": "random"}, WHITE_BOX)
    with pytest.raises(ConfigError, match="search_evals"):
        make_attack("alie", {"search": "expanding", "search_evals": 0}, WHITE_BOX)
