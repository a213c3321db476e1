"""Sign flip on the summary tokens, against the shipped small forest."""

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

NAME = "sign-flip"
N_AGENTS = 60
WARMUP = 3  # clean rounds first, so that the summaries carry the episode's history
WHITE_BOX = {"knowledge": "white-box"}


def _view(world, round_=WARMUP):
    economy, played, ids = world
    return AttackView(round_, economy, ids, played, np.random.default_rng(0))


@pytest.mark.parametrize("scale", [1.0, 0.5, 3.0])
def test_sign_flip_replaces_compromised_summaries_by_minus_scale_times_their_own(world, scale):
    view = _view(world)
    delta = make_attack(NAME, {"scale": scale}, WHITE_BOX).summary_delta(view, 128)
    clean = latent_round(view).summaries[view.compromised]
    rows = delta[view.compromised]
    torch.testing.assert_close(clean + rows, -scale * clean, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(rows, -(1 + scale) * clean, rtol=1e-5, atol=1e-5)


def test_sign_flip_leaves_honest_rows_exactly_zero(world):
    view = _view(world)
    delta = make_attack(NAME, {}, WHITE_BOX).summary_delta(view, 128)
    assert delta.shape == (N_AGENTS, 128)
    assert torch.count_nonzero(delta[torch.from_numpy(view.honest)]) == 0
    assert torch.count_nonzero(delta[torch.from_numpy(view.compromised)]) > 0


def test_sign_flip_waits_for_its_start_round(world):
    attack = make_attack(NAME, {"start_round": WARMUP + 1}, WHITE_BOX)
    assert attack.summary_delta(_view(world, round_=WARMUP), 128) is None
    assert attack.summary_delta(_view(world, round_=WARMUP + 1), 128) is not None


@settings(max_examples=examples(10, fuzz=200))
@given(max_norm=st.floats(0.0, 3.0), scale=st.floats(0.0, 10.0))
def test_sign_flip_delta_rows_stay_within_max_norm_times_the_typical_summary_norm(
    world, max_norm, scale
):
    view = _view(world)
    params = {"max_norm": max_norm, "scale": scale}
    delta = make_attack(NAME, params, WHITE_BOX).summary_delta(view, 128)
    budget = max_norm * latent_round(view).typical_norm
    lengths = torch.linalg.vector_norm(delta.double(), dim=1)
    assert float(lengths.max()) <= budget * (1 + 1e-4) + 1e-12


def test_sign_flip_budget_shortens_the_flip_along_minus_the_clean_summary(world):
    view = _view(world)
    capped = make_attack(NAME, {"max_norm": 0.5}, WHITE_BOX).summary_delta(view, 128)
    lr = latent_round(view)
    clean = lr.summaries[view.compromised]
    expected = -clean / torch.linalg.vector_norm(clean, dim=1, keepdim=True)
    expected = expected * 0.5 * lr.typical_norm  # unbounded the flip is 2x the norm: it binds
    torch.testing.assert_close(capped[view.compromised], expected, rtol=1e-5, atol=1e-5)


def test_sign_flip_changes_honest_agents_action_logits_and_decisions(world):
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


def test_sign_flip_is_registered_white_box_on_the_summary_tokens_and_validates_its_params():
    attack = make_attack(NAME, {}, WHITE_BOX)
    assert (attack.surface, attack.knowledge) == ("summary tokens", "white-box")
    assert (attack.params.scale, attack.params.max_norm, attack.params.objective) == (
        1.0,
        None,
        "untargeted",
    )
    with pytest.raises(ConfigError, match="scale"):
        make_attack(NAME, {"scale": -1.0}, WHITE_BOX)
    with pytest.raises(ConfigError, match="max_norm"):
        make_attack(NAME, {"max_norm": float("nan")}, WHITE_BOX)
    with pytest.raises(ConfigError, match="white-box"):
        make_attack(NAME, {}, {"knowledge": "black-box"})
