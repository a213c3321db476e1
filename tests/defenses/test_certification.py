"""Certified decisions: the bounds hold for every attack we can find, and are exact without one.

Soundness is the property that matters: every context an agent can be given by ``k`` compromised
agents per tree lies in its certified box, and no certified decision ever flips. Random summaries
of any norm (hypothesis) and gradient attacks that push contexts outwards, on a tiny random forest
and on the shipped one, must all stay inside.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from budget import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from defenses import certification
from defenses.certification import Certificate, certify
from forest.checkpoints import load_policy
from forest.errors import ConfigError
from forest.model import ForestConfig, ForestModel
from forest.model.robust_aggregation import RobustAggregation
from redteam.episodes import build_economy, fresh_policy

POOLINGS = (RobustAggregation(method="median"), RobustAggregation(method="trimmed-mean"))
SLACK = 1e-4  # the float32 forest against float64 bounds


def _tiny(seed: int = 0) -> ForestModel:
    torch.manual_seed(seed)
    return ForestModel(ForestConfig.preset("tiny")).eval()


def _compromised(trees: torch.Tensor, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` agents (at most) of every tree, chosen at random."""
    chosen = []
    for tree in torch.unique(trees).tolist():
        rows = np.flatnonzero(trees.numpy() == tree)
        chosen.extend(rng.choice(rows, size=min(k, rows.size), replace=False).tolist())
    return np.array(sorted(chosen), dtype=np.int64)


@torch.no_grad()
def _play(model, summaries, trees, pooling, bad, delta):
    """The forest's contexts and classes when the agents ``bad`` add ``delta``."""
    attacked = summaries.clone()
    attacked[bad] = attacked[bad] + delta
    context = model.aggregate(attacked, trees, robust_aggregation=pooling)
    return context, model.heads(attacked, context)[0].argmax(-1).numpy()


def _assert_sound(cert: Certificate, context, classes, bad) -> None:
    honest = np.ones(context.shape[0], dtype=bool)
    honest[bad] = False
    c = context.double()[honest]
    low, high = cert.context[0][honest], cert.context[1][honest]
    escaped = torch.maximum(low - c, c - high).max().item() if honest.any() else 0.0
    assert escaped <= SLACK, f"a context left its certified box by {escaped:.2e}"
    flipped = cert.certified & honest & (classes != cert.chosen)
    assert not flipped.any(), f"certified decisions flipped: {np.flatnonzero(flipped)}"
    moved = honest & (np.abs(classes - cert.chosen) > cert.radius)
    assert not moved.any(), f"decisions moved past their certified radius: {np.flatnonzero(moved)}"


def test_with_no_compromised_agent_the_trimmed_mean_bounds_are_the_clean_forest():
    model = _tiny()
    summaries, trees = torch.randn(60, 32), torch.arange(60) % 6
    cert = certify(model, summaries, trees, POOLINGS[1], k=0)
    clean = model.aggregate(summaries, trees, robust_aggregation=POOLINGS[1]).double()
    torch.testing.assert_close(cert.context[0], clean, atol=SLACK, rtol=0)
    torch.testing.assert_close(cert.context[1], clean, atol=SLACK, rtol=0)
    assert cert.share == 1.0


@settings(max_examples=examples(25), deadline=None)
@given(
    seed=st.integers(0, 10_000),
    k=st.integers(1, 3),
    log_norm=st.floats(-3.0, 8.0),
    pooling=st.sampled_from(POOLINGS),
    n_trees=st.integers(1, 7),
)
def test_no_summary_of_any_norm_moves_a_context_out_of_its_box(seed, k, log_norm, pooling, n_trees):
    """Invariant (soundness): whatever ``k`` agents per tree send, at any scale, every honest
    agent's context stays in its box and no certified decision changes."""
    model = _tiny(seed % 3)
    rng = np.random.default_rng(seed)
    n = int(rng.integers(n_trees, 8 * n_trees + 1))
    summaries = torch.from_numpy(rng.standard_normal((n, 32))).float()
    trees = torch.from_numpy(rng.integers(0, n_trees, n))
    cert = certify(model, summaries, trees, pooling, k)
    bad = _compromised(trees, k, rng)
    delta = torch.from_numpy(rng.standard_normal((bad.size, 32)) * 10**log_norm).float()
    _assert_sound(cert, *_play(model, summaries, trees, pooling, bad, delta), bad)


def test_a_decision_far_from_any_other_is_certified_and_stays():
    """A forest whose heads favour one class by more than any context can move them: every
    decision is certified at k = 2, and attacks leave it."""
    model = _tiny(1)
    with torch.no_grad():
        model.readout.action_head.bias[3] += 1e3
    summaries, trees = torch.randn(40, 32), torch.arange(40) % 4
    cert = certify(model, summaries, trees, POOLINGS[0], k=2)
    assert cert.share == 1.0 and (cert.chosen == 3).all() and (cert.radius == 0).all()
    rng = np.random.default_rng(0)
    bad = _compromised(trees, 2, rng)
    delta = torch.from_numpy(rng.standard_normal((bad.size, 32)) * 1e4).float()
    _assert_sound(cert, *_play(model, summaries, trees, POOLINGS[0], bad, delta), bad)


@pytest.fixture(scope="module")
def shipped_round():
    """The shipped forest's summaries in round 3 of a 120-agent supply chain."""
    policy = fresh_policy(load_policy(Path("checkpoints/small")), True)
    economy = build_economy("supply_chain", {"n_agents": 120}, 0)
    for _ in range(3):
        step = policy.act(economy)
        economy.step(step.actions, step.messages)
    inputs = policy.model_inputs(economy)
    return policy.model, policy.encoded(inputs), inputs["tree_ids"]


@pytest.mark.parametrize("pooling", POOLINGS, ids=lambda p: p.method)
def test_gradient_attacks_on_the_shipped_forest_stay_inside_the_boxes(shipped_round, pooling):
    """The strongest thing we have against a bound: compromised summaries optimised (Adam,
    restarts at several scales) to push honest contexts out along random directions."""
    model, summaries, trees = shipped_round
    k = 1
    cert = certify(model, summaries, trees, pooling, k)
    rng = np.random.default_rng(1)
    bad = _compromised(trees, k, rng)
    honest = torch.ones(summaries.shape[0], dtype=torch.bool)
    honest[bad] = False
    for scale in (1.0, 30.0, 1e3):
        direction = torch.from_numpy(rng.standard_normal(cert.context[0].shape)).float()
        delta = (torch.randn(bad.size, summaries.shape[1]) * scale).requires_grad_()
        optimiser = torch.optim.Adam([delta], lr=0.1 * scale)
        for _ in range(40):
            attacked = summaries.clone()
            attacked[bad] = attacked[bad] + delta
            context = model.aggregate(attacked, trees, robust_aggregation=pooling)
            loss = -(context[honest] * direction[honest]).sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        _assert_sound(cert, *_play(model, summaries, trees, pooling, bad, delta.detach()), bad)


def test_certify_refuses_a_pooling_it_has_no_bound_for():
    model = _tiny()
    summaries, trees = torch.randn(10, 32), torch.zeros(10, dtype=torch.long)
    for pooling in (
        RobustAggregation(method="krum"),
        RobustAggregation(method="median", share_cap=0.0),
        RobustAggregation(method="median", pre_aggregation="nnm"),
    ):
        with pytest.raises(ConfigError, match="certify"):
            certify(model, summaries, trees, pooling, 1)
    with pytest.raises(ConfigError, match="k"):
        certify(model, summaries, trees, POOLINGS[0], -1)


def _sharp(seed: int) -> ForestModel:
    """A tiny forest whose tree slots attend sharply (a random one barely does: its slots start
    at zero), so that the share cap binds, capped shares tie at exactly 1/2 and the null key
    matters: where the certificate's bookkeeping is hardest."""
    model = _tiny(seed)
    agg = model.aggregator
    with torch.no_grad():
        agg.tree_slots.normal_(0, 1.0)
        agg.tree_attn.q_proj.weight.mul_(20)
        agg.tree_attn.k_proj.weight.mul_(20)
        agg.tree_sink_logit.fill_(-30.0)
    return model


@settings(max_examples=examples(20), deadline=None)
@given(
    seed=st.integers(0, 10_000),
    size=st.sampled_from([4, 8, 16]),
    k=st.integers(0, 2),
    pooling=st.sampled_from(POOLINGS),
    log_norm=st.floats(-1.0, 4.0),
)
def test_tree_slots_stay_in_their_boxes_where_the_cap_binds(seed, size, k, pooling, log_norm):
    """Invariant (soundness, stage (i) alone, which later stages' looseness could hide): under
    sharp attention every tree slot's state stays in its certified box, whatever ``k`` agents
    per tree send; the clean state too (k = 0 and median included)."""
    model = _sharp(seed % 3)
    agg = model.aggregator
    g = torch.Generator().manual_seed(seed)
    n_trees = 6
    trees = torch.arange(size * n_trees) // size
    centres = torch.randn(n_trees, 1, 32, generator=g).expand(n_trees, size, 32).reshape(-1, 32)
    summaries = centres + torch.randn(size * n_trees, 32, generator=g)
    normalised = agg.summary_norm(summaries.double()).double()
    k_per_tree = torch.full((n_trees,), k, dtype=torch.long)
    low, high = certification._tree_slot_bounds(model, normalised, trees, k_per_tree, pooling)
    attacked = summaries.clone()
    rng = np.random.default_rng(seed)
    bad = _compromised(trees, k, rng)
    attacked[bad] = torch.from_numpy(rng.standard_normal((bad.size, 32)) * 10**log_norm).float()
    for shown in (summaries, attacked):
        with torch.no_grad():
            states = agg.tree_pool(agg.summary_norm(shown), trees, n_trees,
                                   torch.ones(size * n_trees), pooling)[0].double()  # fmt: skip
        escaped = torch.maximum(low - states, states - high).max().item()
        assert escaped <= SLACK, f"a tree slot left its box by {escaped:.2e}"
