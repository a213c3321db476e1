"""Coverage of the seed-level and tree-level intervals on synthetic suites with a known effect.

Each simulated experiment is shaped like a suite: a few seeds, each with a random seed effect
shared by the attacked episode and its twin, trees within the seed with a shared tree effect,
an attack effect that varies by seed and by tree around the true mean difference, and skewed
agent noise averaged within trees. The nominal 95% intervals must cover the true difference in
93-97% of 1,000 experiments (binomial sd about 0.7 points) for 2, 3 and 5 seeds; the old
percentile bootstrap over seed means must fail the same check, which shows the check can fail.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from forest.errors import InvalidInputError
from redteam.intervals import (
    PairedDifference,
    hierarchical_interval,
    paired_t_interval,
    t_interval,
)
from redteam.statistics import bootstrap_mean

EXPERIMENTS = 1000
SEED = 20261201  # fixed once, not searched for


def simulate_suites(rng, n_seeds, true_diff, experiments=EXPERIMENTS, max_trees=10, agents=10):
    """(E, S, T) attacked and twin tree values and the (E,) tree count of each experiment.

    Only the first ``n_trees[e]`` trees of experiment e exist (4-10 trees, as in the suites).
    """
    shape = (experiments, n_seeds, max_trees)
    seed_effect = rng.normal(0.0, 1.0, (experiments, n_seeds, 1))  # shared by both arms
    tree_effect = rng.normal(0.0, 0.5, shape)  # shared by both arms
    attack_by_seed = rng.normal(0.0, 0.15, (experiments, n_seeds, 1))
    attack_by_tree = rng.normal(0.0, 0.3, shape)

    def agent_noise():  # skewed: centred exponential, averaged over the tree's agents
        return (rng.exponential(1.0, (*shape, agents)) - 1.0).mean(axis=-1)

    twin = seed_effect + tree_effect + agent_noise()
    attacked = seed_effect + tree_effect + true_diff + attack_by_seed + attack_by_tree
    attacked = attacked + agent_noise()
    n_trees = rng.integers(4, max_trees + 1, experiments)
    return attacked, twin, n_trees


def simulate_seed_figures(rng, n_seeds, true_diff, experiments=EXPERIMENTS, rounds=50):
    """(E, S) attacked and twin seed-level figures (e.g. welfare per agent-round of a seed)."""
    seed_effect = rng.normal(0.0, 1.0, (experiments, n_seeds))  # shared by both arms
    attack_by_seed = rng.normal(0.0, 0.2, (experiments, n_seeds))

    def episode_noise():  # skewed per-round shocks averaged over the episode
        return (rng.exponential(1.0, (experiments, n_seeds, rounds)) - 1.0).mean(axis=-1)

    twin = seed_effect + episode_noise()
    attacked = seed_effect + true_diff + attack_by_seed + episode_noise()
    return attacked, twin


def covered(result: PairedDifference, truth: float) -> bool:
    return result.low <= truth <= result.high


@pytest.mark.parametrize("true_diff", [0.3, 0.0])
@pytest.mark.parametrize("n_seeds", [2, 3, 5])
def test_nominal_95_intervals_cover_the_true_difference_93_to_97_percent(n_seeds, true_diff):
    rng = np.random.default_rng([SEED, n_seeds, int(true_diff * 10)])
    seed_a, seed_b = simulate_seed_figures(rng, n_seeds, true_diff)
    attacked, twin, n_trees = simulate_suites(rng, n_seeds, true_diff)
    seed_level = hierarchical = 0
    for e in range(EXPERIMENTS):
        seed_level += covered(paired_t_interval(seed_a[e], seed_b[e]), true_diff)
        a, b = attacked[e, :, : n_trees[e]], twin[e, :, : n_trees[e]]
        hierarchical += covered(hierarchical_interval(a, b), true_diff)
    assert 0.93 <= seed_level / EXPERIMENTS <= 0.97, seed_level
    assert 0.93 <= hierarchical / EXPERIMENTS <= 0.97, hierarchical


def test_percentile_bootstrap_of_two_seeds_covers_about_half_the_time():
    rng = np.random.default_rng([SEED, 2, 3])
    attacked, twin, _ = simulate_suites(rng, 2, 0.3, experiments=200)
    diffs = (attacked - twin).mean(axis=2)  # (E, 2) per-seed differences
    hits = 0
    for d in diffs:
        est = bootstrap_mean(d)
        hits += est.low <= 0.3 <= est.high
    assert hits / len(diffs) < 0.75  # far below 93%: the coverage test above would catch it


def test_tree_weights_give_the_agent_level_mean_of_each_seed():
    attacked = np.array([[1.0, 3.0], [2.0, 2.0], [0.0, 4.0]])
    twin = np.zeros((3, 2))
    sizes = np.array([3.0, 1.0])  # 3 agents in tree 0, 1 in tree 1
    res = hierarchical_interval(attacked, twin, weights=sizes)
    seed_means = (attacked * sizes).sum(axis=1) / sizes.sum()
    assert res.mean == pytest.approx(seed_means.mean())
    assert res.n == 3
    assert res == t_interval(seed_means, method=res.method)


def test_significance_and_its_text():
    res = paired_t_interval(np.array([1.2, 1.3, 1.25]), np.array([1.0, 1.05, 1.1]))
    assert res.n == 3 and res.significant
    assert res.text() == f"{res.mean:+.3f} [{res.low:+.3f}, {res.high:+.3f}] n=3"
    zero = paired_t_interval(np.array([1.0, 0.0, 0.5]), np.array([0.5, 0.5, 0.5]))
    assert zero.low < 0 < zero.high and not zero.significant
    assert zero.text().endswith(" n=3 (not significant)")
    assert PairedDifference(0.123, 0.05, 0.196, 3, "t").text() == "+0.123 [+0.050, +0.196] n=3"
    edge = PairedDifference(-0.1, -0.2, 0.0, 2, "t")  # an interval ending at 0 holds it
    assert edge.text(2) == "-0.10 [-0.20, +0.00] n=2 (not significant)"


def test_equal_differences_give_a_point_interval():
    res = paired_t_interval(np.array([1.1, 1.2, 1.3]), np.array([1.0, 1.1, 1.2]) - 0.0)
    same = t_interval(np.array([0.1, 0.1, 0.1]))
    assert (same.mean, same.low, same.high) == (0.1, 0.1, 0.1) and same.significant
    zero = t_interval(np.zeros(4))
    assert (zero.low, zero.high) == (0.0, 0.0) and not zero.significant
    assert res.low <= res.mean <= res.high


def test_two_seeds_use_the_t_quantile_with_one_degree_of_freedom():
    res = t_interval(np.array([0.0, 1.0]))
    half = 12.7062047361747 * math.sqrt(0.5) / math.sqrt(2)
    assert res.low == pytest.approx(0.5 - half) and res.high == pytest.approx(0.5 + half)


def test_one_seed_has_a_point_and_no_interval():
    res = paired_t_interval(np.array([0.7]), np.array([0.5]))
    assert res.n == 1 and math.isnan(res.low) and not res.significant
    assert res.text() == "+0.200 n=1, no interval"
    tree = hierarchical_interval(np.ones((1, 4)), np.zeros((1, 4)))
    assert tree.n == 1 and tree.text() == "+1.000 n=1, no interval"


def test_a_difference_undefined_in_any_seed_is_undefined():
    res = paired_t_interval(np.array([1.0, np.nan, 2.0]), np.array([0.0, 0.0, 0.0]))
    assert math.isnan(res.mean) and res.n == 3 and not res.significant and res.text() == "—"
    tree = hierarchical_interval(np.array([[1.0, np.nan], [1.0, 2.0]]), np.zeros((2, 2)))
    assert math.isnan(tree.mean) and tree.text() == "—"
    assert t_interval(np.array([])).text() == "—"


ONES = np.ones((2, 3))


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: paired_t_interval(np.ones(3), np.ones(4)), "attacked, twin"),
        (lambda: paired_t_interval(np.ones((3, 2)), np.ones((3, 2))), "attacked, twin"),
        (lambda: hierarchical_interval(np.ones(3), np.ones(3)), "attacked, twin"),
        (lambda: hierarchical_interval(np.ones((3, 4)), np.ones((3, 5))), "attacked, twin"),
        (lambda: hierarchical_interval(np.ones((3, 0)), np.ones((3, 0))), "attacked, twin"),
        (lambda: hierarchical_interval(ONES, ONES, weights=np.ones(4)), "weights"),
        (lambda: hierarchical_interval(ONES, ONES, weights=-np.ones(3)), "weights"),
        (lambda: hierarchical_interval(ONES, ONES, weights=np.zeros(3)), "weights"),
        (lambda: t_interval(np.ones((2, 2))), "differences"),
        (lambda: t_interval(np.ones(3), confidence=1.0), "confidence"),
    ],
)
def test_bad_shapes_name_the_argument(call, name):
    with pytest.raises(InvalidInputError) as info:
        call()
    assert str(info.value).startswith(f"{name}:") and "\n" not in str(info.value)


def test_short_text_for_tables_marks_what_is_not_significant():
    from redteam.intervals import PairedDifference

    assert PairedDifference(0.5, 0.2, 0.8, 3, "t").short() == "0.500 [0.200, 0.800]"
    assert PairedDifference(0.1, -0.2, 0.4, 3, "t").short() == "0.100 [-0.200, 0.400] ns"
    assert PairedDifference(0.25, float("nan"), float("nan"), 3, "pooled").short() == "0.250"
