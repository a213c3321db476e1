"""On equal weights, every tree-slot aggregator equals ByzFL's of the same name on the same
vectors (each head's values of a slot, one tree at a time): ByzFL is the field's reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from budget import examples
from byzfl_reference import byzfl_module
from hypothesis import given, settings
from hypothesis import strategies as st

from forest.model.robust_aggregation import (
    RobustAggregation,
    _live_rows_by_tree,
    _nearest_neighbour_mixing,
)

byzfl = byzfl_module("aggregators")
SIZES = (9, 7, 12)  # agents per tree: f = floor(0.25 k) = 2, 1, 3
SHARE = 0.25


def equal_weight_pool(seed: int, m: int = 2, h: int = 2, dh: int = 5):
    g = torch.Generator().manual_seed(seed)
    tree_index = torch.cat([torch.full((k,), t) for t, k in enumerate(SIZES)])
    tree_index = tree_index[torch.randperm(tree_index.numel(), generator=g)]
    values = torch.randn(tree_index.numel(), m, h, dh, generator=g, dtype=torch.float64)
    values[0] += 40.0  # an outlier, so that the selections have something to reject
    counts = torch.tensor(SIZES, dtype=torch.float64)[tree_index]
    weights = (1.0 / counts)[:, None, None].expand(-1, m, h).clone()
    return values, weights, tree_index, len(SIZES)


def reference(aggregate, values, tree_index, n_trees):
    """ByzFL's ``aggregate(vectors, f)`` per tree, slot and head: (G, m, H, dh)."""
    out = np.zeros((n_trees, *values.shape[1:]))
    for t in range(n_trees):
        rows = values[tree_index == t].numpy()
        f = int(SHARE * rows.shape[0])
        for slot, head in np.ndindex(values.shape[1:3]):
            out[t, slot, head] = aggregate(rows[:, slot, head], f)
    return out


REFERENCES = {
    "median": lambda v, f: byzfl.Median()(v),
    "trimmed-mean": lambda v, f: byzfl.TrMean(f)(v),
    "geometric-median": lambda v, f: byzfl.GeometricMedian(nu=0.1, T=3)(v),
    "krum": lambda v, f: byzfl.Krum(f)(v),
    "multi-krum": lambda v, f: byzfl.MultiKrum(f)(v),
}


@pytest.mark.parametrize("method", ["geometric-median", "krum", "multi-krum"])
@given(seed=st.integers(0, 10_000))
@settings(max_examples=examples(10), deadline=None)
def test_each_aggregator_equals_byzfl_on_equal_weights(method, seed):
    values, weights, tree_index, n_trees = equal_weight_pool(seed)
    ours = RobustAggregation(method=method, byzantine_share=SHARE, iterations=3, smoothing=0.1)
    got = ours.pool(values, weights, tree_index, n_trees)
    want = reference(REFERENCES[method], values, tree_index, n_trees)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)


@given(seed=st.integers(0, 10_000))
@settings(max_examples=examples(10), deadline=None)
def test_median_and_trimmed_mean_still_equal_byzfl_on_odd_trees(seed):
    """ByzFL's median of an even count averages the middle two; the weighted median takes the
    lower one, so the check runs on trees of odd size; ``trim = f / k`` is ByzFL's ``f``."""
    values, weights, tree_index, _ = equal_weight_pool(seed)
    odd = torch.isin(tree_index, torch.tensor([0, 1]))  # the trees of 9 and 7 agents
    keep = torch.nonzero(odd).flatten()
    values, weights, tree_index = values[keep], weights[keep], tree_index[keep]
    got = RobustAggregation(method="median").pool(values, weights, tree_index, 2)
    want = reference(REFERENCES["median"], values, tree_index, 2)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)
    nine = tree_index == 0
    trimmed = RobustAggregation(method="trimmed-mean", trim=2 / 9, share_cap=0.0).pool(
        values[nine], weights[nine], torch.zeros(9, dtype=torch.long), 1
    )
    want = reference(REFERENCES["trimmed-mean"], values[nine], torch.zeros(9, dtype=torch.long), 1)
    np.testing.assert_allclose(trimmed.numpy(), want, rtol=1e-10, atol=1e-10)


@given(seed=st.integers(0, 10_000))
@settings(max_examples=examples(10), deadline=None)
def test_nearest_neighbour_mixing_equals_byzfl_nnm_and_then_the_geometric_median_too(seed):
    """Each agent's mixed vector is ByzFL's NNM row; the geometric median of the mixed vectors is
    ByzFL's. (Multi-Krum after mixing is not compared: mixing makes groups of exact copies whose
    Krum scores tie at the cutoff, and rounding, not the rule, then picks the survivors.)"""
    values, weights, tree_index, n_trees = equal_weight_pool(seed)
    rows_by_tree = _live_rows_by_tree(tree_index, torch.ones_like(tree_index, dtype=torch.bool),
                                      n_trees)  # fmt: skip
    mixed = _nearest_neighbour_mixing(values, weights, rows_by_tree, SHARE)
    for rows in rows_by_tree:
        f = int(SHARE * rows.numel())
        for slot, head in np.ndindex(values.shape[1:3]):
            want = byzfl.NNM(f)(values[rows, slot, head].numpy())
            np.testing.assert_allclose(
                mixed[rows, slot, head].numpy(), want, rtol=1e-12, atol=1e-12
            )
    ours = RobustAggregation(
        method="geometric-median", pre_aggregation="nnm", byzantine_share=SHARE, iterations=3
    )
    got = ours.pool(values, weights, tree_index, n_trees)
    want = reference(
        lambda v, f: REFERENCES["geometric-median"](byzfl.NNM(f)(v), f), values, tree_index, n_trees
    )
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)
