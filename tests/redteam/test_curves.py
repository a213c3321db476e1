"""Security curves and breakdown points, on synthetic suites whose harm curve is known."""

from __future__ import annotations

import math
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from forest.errors import InvalidInputError
from redteam.cell import Cell
from redteam.curves import breakdown, security_curves

TRUE_BREAKDOWN = 0.05  # harm = 100 * share against a twin welfare of -100: 5% at share 0.05


def _cells(seeds: int = 3, groups: tuple[str, ...] = ("atk",)) -> list[Cell]:
    base = Cell(suite="s", economy="supply_chain", economy_label="supply_chain",
                economy_config={"n_agents": 100}, attack="latent-noise", attack_label="atk",
                attack_params={}, threat={"fraction": 0.01, "count": None}, sweep=None,
                defense=None, defense_label="no defense", defense_params={}, seed=0, rounds=10,
                checkpoint="c", checkpoint_digest="d", router=True, metrics={})  # fmt: skip
    return [replace(base, attack_label=g, seed=s) for g in groups for s in range(seeds)]


def _linear(noise: float, rng: np.random.Generator, slope: float = 100.0):
    """harm = slope * share (+ Gaussian noise per seed)."""
    calls = []

    def evaluate(cells):
        calls.append(len(cells))
        return [SimpleNamespace(scalars={
            "harm": slope * c.threat["fraction"] + noise * rng.standard_normal(),
            "welfare_twin": -100.0, "n_compromised": c.threat["fraction"] * 100,
            "seconds_attack": 0.0})
            for c in cells]  # fmt: skip

    return evaluate, calls


def test_noise_free_bisection_closes_in_on_the_breakdown_point():
    for bisect in (0, 2, 5):
        evaluate, _ = _linear(0.0, np.random.default_rng(0))
        (curve,) = security_curves(_cells(), evaluate, (0.01, 0.1, 1.0), 0.05, bisect)
        found = curve.breakdown.share
        # Each bisection halves the bracket in log share; the point found is its upper end.
        assert TRUE_BREAKDOWN < found <= TRUE_BREAKDOWN * 10 ** (1 / 2**bisect) * (1 + 1e-9)
        # Noise-free, the interval is the bracket: (last share under, first share over].
        assert curve.breakdown.low < TRUE_BREAKDOWN < curve.breakdown.high == found


def test_the_breakdown_interval_holds_the_true_point_in_most_noisy_suites():
    """At 3 seeds and noise comparable to the threshold, (low, high] holds the true point in
    at least 90% of synthetic suites."""
    rng = np.random.default_rng(1)
    grid = (0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.2)
    hits = 0
    for _ in range(200):
        evaluate, _ = _linear(2.0, rng)
        (curve,) = security_curves(_cells(), evaluate, grid, 0.05, bisect=0)
        b = curve.breakdown
        hits += ((b.low is None or b.low < TRUE_BREAKDOWN)
                 and b.high is not None and b.high >= TRUE_BREAKDOWN)  # fmt: skip
    assert hits >= 180


def test_a_curve_that_never_crosses_is_censored_and_costs_no_bisection():
    evaluate, calls = _linear(0.0, np.random.default_rng(0), slope=1.0)
    (curve,) = security_curves(_cells(seeds=2), evaluate, (0.1, 0.5), 0.05, bisect=3)
    assert curve.breakdown.share is None and curve.breakdown.high is None
    assert calls == [4]  # the grid only
    assert curve.breakdown.text(0.5) == "> 0.5 (0.5, > 0.5]"


def test_every_group_gets_its_own_curve_over_every_seed():
    evaluate, _ = _linear(0.0, np.random.default_rng(0))
    curves = security_curves(_cells(seeds=2, groups=("a", "b")), evaluate, (0.01, 0.1), 0.05, 0)
    assert [c.group.split(" | ")[1] for c in curves] == ["a", "b"]
    assert all(p.harm.n == 2 for c in curves for p in c.points)


def test_the_threshold_is_a_share_of_the_twins_welfare():
    evaluate, _ = _linear(0.0, np.random.default_rng(0))
    (curve,) = security_curves(_cells(), evaluate, (0.01, 0.1), 0.2, 0)
    assert curve.breakdown.threshold == pytest.approx(20.0)
    assert math.isclose(breakdown(curve.points, 0.2).threshold, 20.0)


@pytest.mark.parametrize("shares", [(), (0.0, 0.1), (0.1, 1.5)])
def test_shares_outside_zero_to_one_are_refused(shares):
    evaluate, _ = _linear(0.0, np.random.default_rng(0))
    with pytest.raises(InvalidInputError, match="shares"):
        security_curves(_cells(), evaluate, shares)
