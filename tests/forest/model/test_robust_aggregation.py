"""Robust pooling of the tree slots: exact against direct computations, equal to the plain
attention pool where it should be, bounded against outliers, and still a hard mask."""

import math

import numpy as np
import pytest
import torch
from budget import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from forest.errors import ConfigError, InvalidInputError
from forest.model import robust_aggregation as ra
from forest.model.robust_aggregation import METHODS, RobustAggregation


def random_pool(seed: int, n: int = 23, n_trees: int = 4, m: int = 2, h: int = 2, dh: int = 3):
    g = torch.Generator().manual_seed(seed)
    values = torch.randn(n, m, h, dh, generator=g)
    tree_index = torch.arange(n) % n_trees  # every tree has agents
    raw = torch.rand(n, m, h, generator=g) + 0.05
    totals = torch.zeros(n_trees, m, h).index_add(0, tree_index, raw)
    return values, raw / totals[tree_index], tree_index, n_trees


def direct(values, weights, tree_index, n_trees, statistic):
    """Per tree and column, ``statistic(sorted values, their weights)`` in plain numpy."""
    out = np.zeros((n_trees, *values.shape[1:]))
    v, w = values.numpy(), weights.unsqueeze(-1).expand_as(values).numpy()
    for g in range(n_trees):
        rows = tree_index.numpy() == g
        for col in np.ndindex(values.shape[1:]):
            x, p = v[rows][(slice(None), *col)], w[rows][(slice(None), *col)]
            order = np.argsort(x, kind="stable")
            out[(g, *col)] = statistic(x[order], p[order])
    return out


def weighted_median(x, p):
    return x[np.searchsorted(np.cumsum(p), 0.5)]


def trimmed(trim):
    def statistic(x, p):
        upper, lower = np.cumsum(p), np.cumsum(p) - p
        kept = np.clip(np.minimum(upper, 1 - trim) - np.maximum(lower, trim), 0, None)
        return (kept * x).sum() / (1 - 2 * trim)

    return statistic


@given(seed=st.integers(0, 10_000))
@settings(max_examples=examples(20), deadline=None)
def test_weighted_median_equals_a_direct_computation(seed):
    pool = random_pool(seed)
    got = RobustAggregation(method="median", share_cap=0.0).pool(*pool)
    np.testing.assert_allclose(got.numpy(), direct(*pool, weighted_median), atol=1e-6)


@given(seed=st.integers(0, 10_000), trim=st.floats(0.0, 0.45))
@settings(max_examples=examples(20), deadline=None)
def test_trimmed_mean_equals_a_direct_computation(seed, trim):
    pool = random_pool(seed)
    got = RobustAggregation(method="trimmed-mean", trim=trim, share_cap=0.0).pool(*pool)
    np.testing.assert_allclose(got.numpy(), direct(*pool, trimmed(trim)), atol=1e-5)


@given(seed=st.integers(0, 10_000), method=st.sampled_from(METHODS))
@settings(max_examples=examples(30), deadline=None)
def test_robust_pool_is_invariant_to_the_order_of_agents(seed, method):
    values, weights, tree_index, n_trees = random_pool(seed)
    perm = torch.randperm(values.shape[0], generator=torch.Generator().manual_seed(seed))
    robust = RobustAggregation(method=method)
    a = robust.pool(values, weights, tree_index, n_trees)
    b = robust.pool(values[perm], weights[perm], tree_index[perm], n_trees)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("method", METHODS)
def test_one_outlier_moves_a_robust_slot_far_less_than_the_weighted_mean(method):
    values, weights, tree_index, n_trees = random_pool(3)
    poisoned = values.clone()
    poisoned[0] = 1000.0  # agent 0, tree 0 (six agents)
    # The share cap holds the outlier to 2/6 of its tree's mass: a trimmed mean must cut more.
    robust = RobustAggregation(method=method, trim=0.4)
    plain_shift = (weights.unsqueeze(-1) * (poisoned - values))[tree_index == 0].sum(0).abs().max()
    clean, attacked = (robust.pool(v, weights, tree_index, n_trees) for v in (values, poisoned))
    shift = (attacked - clean).abs().max()
    assert plain_shift > 10.0
    assert shift < 0.05 * plain_shift, f"{method}: moved {shift:.3f} against {plain_shift:.1f}"


def test_without_trimming_or_a_share_cap_the_trimmed_mean_is_the_plain_attention_pool(
    tiny_model, make_round
):
    inputs = make_round(tiny_model.config, 30)
    plain_pool = RobustAggregation(method="trimmed-mean", trim=0.0, share_cap=0.0)
    wide_clip = RobustAggregation(method="norm-clip", clip_multiplier=1e6, share_cap=0.0)
    with torch.no_grad():
        plain = tiny_model(**inputs).context
        for robust in (plain_pool, wide_clip):
            pooled = tiny_model(**inputs, robust_aggregation=robust).context
            torch.testing.assert_close(pooled, plain, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("method", METHODS)
def test_an_agent_masked_out_has_no_effect_on_the_others_under_every_method(
    method, tiny_model, make_round
):
    inputs = make_round(tiny_model.config, 20)
    weights = torch.ones(20)
    weights[4] = 0.0
    robust = RobustAggregation(method=method)
    d = tiny_model.config.hidden_size
    contexts = []
    with torch.no_grad():
        for garbage in (0.0, 1e4, -3e38):
            delta = torch.zeros(20, d)
            delta[4] = garbage
            out = tiny_model(
                **inputs, aggregation_weights=weights, summary_delta=delta,
                robust_aggregation=robust,
            )  # fmt: skip
            contexts.append(torch.cat([out.context[:4], out.context[5:]]))
    torch.testing.assert_close(contexts[0], contexts[1], atol=0, rtol=0)
    torch.testing.assert_close(contexts[0], contexts[2], atol=0, rtol=0)


def test_malformed_robust_aggregation_is_a_clear_error(tiny_dense, make_round):
    with pytest.raises(ConfigError, match="method: expected one of"):
        RobustAggregation(method="mean")
    with pytest.raises(ConfigError, match="trim"):
        RobustAggregation(trim=0.5)
    with pytest.raises(ConfigError, match="share_cap"):
        RobustAggregation(share_cap=0.5)
    with pytest.raises(InvalidInputError, match="DenseForest has no slots"):
        tiny_dense(**make_round(tiny_dense.config, 4), robust_aggregation=RobustAggregation())


@pytest.mark.parametrize("pre_aggregation", ["none", "nnm"])
@pytest.mark.parametrize("method", METHODS)
def test_every_method_passes_finite_gradients_to_the_values(method, pre_aggregation):
    """White-box attacks differentiate through the deployed pooling (adaptive PGD, IPM)."""
    values, weights, tree_index, n_trees = random_pool(5)
    values = values.clone().requires_grad_(True)
    robust = RobustAggregation(method=method, pre_aggregation=pre_aggregation)
    robust.pool(values, weights, tree_index, n_trees).sum().backward()
    assert torch.isfinite(values.grad).all() and values.grad.abs().sum() > 0


def _two_global_sorts(values, weights, tree_index):
    """The order sorting all agents by value, then stably by tree, gives (the definition)."""
    by_value = torch.argsort(values, dim=0, stable=True)
    trees = tree_index.view(-1, *([1] * (values.dim() - 1))).expand_as(values)
    order = by_value.gather(0, torch.argsort(trees.gather(0, by_value), dim=0, stable=True))
    return values.gather(0, order), weights.gather(0, order)


@settings(max_examples=examples(60), deadline=None)
@given(
    seed=st.integers(0, 2**31),
    agents=st.integers(0, 40),
    ties=st.booleans(),
    odd=st.sampled_from([None, math.inf, -math.inf, math.nan]),
    lopsided=st.booleans(),
)
def test_sorting_each_tree_apart_gives_the_order_of_one_global_sort_ties_included(
    seed, agents, ties, odd, lopsided
):
    g = torch.Generator().manual_seed(seed)
    if lopsided:  # one big tree and many of one agent: the block would be mostly padding
        trees = torch.cat([torch.zeros(agents // 2), torch.arange(1, agents - agents // 2 + 1)])
        trees = torch.unique(trees.long(), return_inverse=True)[1]
    else:
        trees = torch.randint(0, max(agents, 1), (agents,), generator=g)
        trees = torch.unique(trees, return_inverse=True)[1]
    shape = (agents, 2, 3)
    if ties:
        values = torch.randint(-2, 3, shape, generator=g).float()
    else:
        values = torch.randn(shape, generator=g)
    if odd is not None and agents:
        values[torch.randint(0, agents, (3,), generator=g), 0] = odd
    weights = torch.rand(shape, generator=g)
    v, w, _, row_tree = ra._sorted_within_trees(values, weights, trees)
    expected_v, expected_w = _two_global_sorts(values, weights, trees)
    assert torch.equal(w, expected_w)  # the weights are all different: the order is the same
    torch.testing.assert_close(v, expected_v, rtol=0, atol=0, equal_nan=True)
    assert torch.equal(row_tree, torch.sort(trees).values)


@settings(max_examples=examples(60), deadline=None)
@given(
    seed=st.integers(0, 10_000),
    cap=st.floats(1.0, 4.0),
    inflation=st.floats(0.0, 30.0),
)
def test_capped_shares_sum_to_one_and_none_exceeds_the_cap(seed, cap, inflation):
    """Invariant of the water-filling cap: per tree and column the shares sum to one, no agent
    holds more than ``cap`` fair shares however much its raw weight is inflated (a summary that
    takes a slot's softmax), and agents under the cap keep their weights' ratios."""
    _, weights, tree_index, n_trees = random_pool(seed)
    raw = weights.clone()
    raw[0] = raw[0] * math.exp(inflation)  # agent 0 (tree 0) scores far above the rest
    totals = torch.zeros(n_trees, *raw.shape[1:]).index_add(0, tree_index, raw)
    raw = raw / totals[tree_index]
    live = torch.ones(raw.shape[0], dtype=torch.bool)
    shares = ra._cap_shares(raw, live, tree_index, n_trees, cap)
    sums = torch.zeros(n_trees, *raw.shape[1:]).index_add(0, tree_index, shares)
    torch.testing.assert_close(sums, torch.ones_like(sums), atol=1e-5, rtol=0)
    counts = torch.bincount(tree_index).to(raw.dtype)
    ceiling = (cap / counts)[tree_index][:, None, None]
    assert bool((shares <= ceiling * (1 + 1e-5)).all())
    under = shares < ceiling * (1 - 1e-4)
    tree0 = (tree_index == 0).nonzero().flatten()
    for col in np.ndindex(raw.shape[1:]):
        rows = [int(r) for r in tree0 if under[(int(r), *col)]]
        if len(rows) >= 2:
            ratio = shares[(rows, *col)] / raw[(rows, *col)]
            torch.testing.assert_close(ratio, ratio[0].expand_as(ratio), rtol=1e-4, atol=0)


@settings(max_examples=examples(60), deadline=None)
@given(seed=st.integers(0, 10_000), inflation=st.floats(-30.0, 30.0), dead=st.integers(0, 22))
def test_the_agents_weight_against_the_null_key_is_their_count_times_their_median_term(
    seed, inflation, dead
):
    """Invariant of ``agent_total``: per tree it is live agents times their lower median term, so
    one agent that inflates (or zeroes) its term moves it no further than the neighbouring
    order statistics, where the plain sum follows the inflation without bound."""
    _, terms, tree_index, n_trees = random_pool(seed)
    pooling = RobustAggregation(method="median")
    live = torch.ones(terms.shape[0], dtype=torch.bool)
    live[dead] = False  # a masked agent counts for nothing
    total = pooling.agent_total(terms, live, tree_index, n_trees)
    attacked = terms.clone()
    attacked[0] = attacked[0] * math.exp(inflation)  # agent 0 (tree 0) may also be the dead one
    moved = pooling.agent_total(attacked, live, tree_index, n_trees)
    for g in range(n_trees):
        rows = ((tree_index == g) & live).nonzero().flatten()
        if rows.numel() == 0:
            assert bool((total[g] == 0).all())
            continue
        ordered = torch.sort(terms[rows], dim=0).values
        middle = (rows.numel() - 1) // 2
        torch.testing.assert_close(total[g], rows.numel() * ordered[middle], rtol=1e-6, atol=0)
        if g != 0 or not live[0]:
            torch.testing.assert_close(moved[g], total[g], rtol=0, atol=0)
            continue
        low = ordered[max(middle - 1, 0)] * rows.numel()
        high = ordered[min(middle + 1, rows.numel() - 1)] * rows.numel()
        assert bool((moved[g] >= low * (1 - 1e-6)).all() and (moved[g] <= high * (1 + 1e-6)).all())
    plain = RobustAggregation(method="median", share_cap=0.0)
    torch.testing.assert_close(
        plain.agent_total(terms, live, tree_index, n_trees),
        torch.zeros(n_trees, *terms.shape[1:]).index_add(0, tree_index, terms),
    )


@settings(max_examples=examples(60), deadline=None)
@given(seed=st.integers(0, 10_000), size=st.sampled_from([2, 4, 8, 16]), jitter=st.integers(0, 3))
def test_the_median_is_one_of_the_values_even_where_shares_sum_to_exactly_one_half(
    seed, size, jitter
):
    """Invariant: every tree's weighted median is one of its agents' values, the first whose
    cumulative weight reaches 1/2. Capped shares (2 / size each) make the half exact, and a
    rounding step either way once left no row crossing (median 0) or two (their sum)."""
    g = torch.Generator().manual_seed(seed)
    n_trees = 3
    tree_index = torch.arange(size * n_trees) % n_trees
    values = torch.randn(size * n_trees, 1, 2, 3, generator=g) + 5.0  # far from 0
    weights = torch.full((size * n_trees, 1, 2), 1.0 / size)
    capped = torch.rand(size * n_trees, generator=g) < 0.5
    weights[capped] = 2.0 / size
    weights = weights + jitter * torch.finfo(torch.float32).eps * torch.randn(
        weights.shape, generator=g
    )
    totals = torch.zeros(n_trees, 1, 2).index_add(0, tree_index, weights)
    weights = weights / totals[tree_index]
    columns = weights.unsqueeze(-1).expand_as(values)  # as the pool hands them over
    median = ra._segment_median(values, columns, tree_index, n_trees)
    for tree in range(n_trees):
        rows = tree_index == tree
        for col in np.ndindex(values.shape[1:]):
            v = values[(rows, *col)]
            w = weights[(rows, *col[:2])]
            order = torch.argsort(v, stable=True)
            cumulative = torch.cumsum(w[order].double(), 0)
            first = int((cumulative < 0.5 - 1e-6).sum())  # the float32 half may round below
            candidates = v[order][first : first + 2]
            assert bool((median[(tree, *col)] == candidates).any()), (median[(tree, *col)], v)
