"""Inner-product manipulation on the summary tokens, against the shipped small forest."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from budget import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from attacks import AttackView, make_attack
from attacks.latent import latent_round, logits_with_delta
from forest.errors import ConfigError

NAME = "inner-product-manipulation"
N_AGENTS = 60
WARMUP = 3  # clean rounds first, so that the summaries carry the episode's history
WHITE_BOX = {"knowledge": "white-box"}


def _view(world, ids=None, round_=WARMUP):
    economy, played, chosen = world
    ids = chosen if ids is None else np.asarray(ids)
    return AttackView(round_, economy, ids, played, np.random.default_rng(0))


def _mean(lr, mask):
    return lr.summaries[torch.from_numpy(mask)].double().mean(dim=0)


@pytest.mark.parametrize("scale", [0.1, 2.0])
def test_ipm_replaces_compromised_summaries_by_minus_scale_times_honest_tree_mean(world, scale):
    view = _view(world)
    delta = make_attack(NAME, {"scale": scale}, WHITE_BOX).summary_delta(view, 128)
    lr = latent_round(view)
    trees = view.economy.tree_ids()
    for i in view.compromised:
        mu = _mean(lr, view.honest & (trees == trees[i]))
        replaced = (lr.summaries[i] + delta[i]).double()
        torch.testing.assert_close(replaced, -scale * mu, rtol=1e-5, atol=1e-5)


def test_ipm_turns_the_inner_product_with_the_honest_tree_mean_negative(world):
    view = _view(world)
    delta = make_attack(NAME, {}, WHITE_BOX).summary_delta(view, 128)
    lr = latent_round(view)
    trees = view.economy.tree_ids()
    for i in view.compromised:
        mu = _mean(lr, view.honest & (trees == trees[i]))
        assert float(mu @ (lr.summaries[i] + delta[i]).double()) < 0.0
        assert float(mu @ lr.summaries[i].double()) > 0.0  # it was positive before


def test_ipm_falls_back_to_the_honest_role_mean_when_a_whole_tree_is_compromised(world):
    economy = world[0]
    trees = economy.tree_ids()
    whole_tree = np.flatnonzero(trees == trees[0])
    view = _view(world, ids=whole_tree)
    lr = latent_round(view)
    delta = make_attack(NAME, {}, WHITE_BOX).summary_delta(view, 128)
    roles = economy.role
    for i in whole_tree:
        mu = _mean(lr, view.honest & (roles == roles[i]))
        replaced = (lr.summaries[i] + delta[i]).double()
        torch.testing.assert_close(replaced, -0.1 * mu, rtol=1e-5, atol=1e-5)


def test_ipm_leaves_honest_rows_exactly_zero(world):
    view = _view(world)
    delta = make_attack(NAME, {}, WHITE_BOX).summary_delta(view, 128)
    assert delta.shape == (N_AGENTS, 128)
    assert torch.count_nonzero(delta[torch.from_numpy(view.honest)]) == 0
    assert torch.count_nonzero(delta[torch.from_numpy(view.compromised)]) > 0


def test_ipm_waits_for_its_start_round(world):
    attack = make_attack(NAME, {"start_round": WARMUP + 1}, WHITE_BOX)
    assert attack.summary_delta(_view(world, round_=WARMUP), 128) is None
    assert attack.summary_delta(_view(world, round_=WARMUP + 1), 128) is not None


@settings(max_examples=examples(10, fuzz=200))
@given(max_norm=st.floats(0.0, 2.0), scale=st.sampled_from([0.1, 1.0, 100.0]))
def test_ipm_delta_rows_stay_within_max_norm_times_the_typical_summary_norm(world, max_norm, scale):
    view = _view(world)
    params = {"max_norm": max_norm, "scale": scale}
    delta = make_attack(NAME, params, WHITE_BOX).summary_delta(view, 128)
    budget = max_norm * latent_round(view).typical_norm
    lengths = torch.linalg.vector_norm(delta.double(), dim=1)
    assert float(lengths.max()) <= budget * (1 + 1e-4) + 1e-12


def test_ipm_budget_scales_the_delta_onto_the_ball_keeping_its_direction(world):
    view = _view(world)
    free = make_attack(NAME, {}, WHITE_BOX).summary_delta(view, 128)[view.compromised]
    capped = make_attack(NAME, {"max_norm": 0.5}, WHITE_BOX).summary_delta(view, 128)
    radius = 0.5 * latent_round(view).typical_norm
    lengths = torch.linalg.vector_norm(free, dim=1, keepdim=True)
    assert float(lengths.min()) > radius  # the cap binds on every row
    expected = free * torch.clamp(radius / lengths, max=1.0)
    torch.testing.assert_close(capped[view.compromised], expected, rtol=1e-5, atol=1e-6)


def test_ipm_changes_honest_agents_action_logits_and_decisions(world):
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


def test_ipm_is_registered_white_box_on_the_summary_tokens_and_validates_its_params():
    attack = make_attack(NAME, {}, WHITE_BOX)
    assert (attack.surface, attack.knowledge) == ("summary tokens", "white-box")
    assert (attack.params.scale, attack.params.max_norm, attack.params.objective) == (
        0.1,
        None,
        "untargeted",
    )
    with pytest.raises(ConfigError, match="scale"):
        make_attack(NAME, {"scale": -0.1}, WHITE_BOX)
    with pytest.raises(ConfigError, match="max_norm"):
        make_attack(NAME, {"max_norm": -1.0}, WHITE_BOX)
    with pytest.raises(ConfigError, match="white-box"):
        make_attack(NAME, {}, {"knowledge": "black-box"})
