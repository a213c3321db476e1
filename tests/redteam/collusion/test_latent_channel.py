"""The latent-channel measurement: its estimator on data with a known answer, then the swap's
exact zero under masking beside a positive reading where rivals share the latent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from forest.checkpoints import load_policy
from forest.errors import InvalidInputError
from forest.seating import SeatedForest, SeatedPolicy
from redteam.collusion.latent_channel import heldout_r2, measure_channel

SHIPPED = Path(__file__).resolve().parents[3] / "checkpoints" / "small"


def synthetic(signal: float, n_markets: int = 200, per_market: int = 10, seed: int = 0):
    """y = signal * x0 + unit noise, with 5 irrelevant features: population R^2 is
    signal^2 / (signal^2 + 1)."""
    rng = np.random.default_rng(seed)
    n = n_markets * per_market
    x = rng.standard_normal((n, 6))
    y = signal * x[:, 0] + rng.standard_normal(n)
    return x, y, np.repeat(np.arange(n_markets), per_market)


@pytest.mark.parametrize("signal", [0.5, 1.0, 2.0])
def test_heldout_r2_recovers_a_known_r2(signal):
    x, y, groups = synthetic(signal)
    assert heldout_r2(x, y, groups) == pytest.approx(signal**2 / (signal**2 + 1), abs=0.04)


def test_heldout_r2_reads_about_zero_without_signal_and_never_rewards_overfitting():
    x, y, groups = synthetic(0.0)
    r2 = heldout_r2(x, y, groups)
    assert -0.02 < r2 < 0.02
    many = np.hstack([x, np.random.default_rng(1).standard_normal((len(y), 60))])
    assert heldout_r2(many, y, groups) < 0.02  # held-out: 66 noise features buy nothing


def test_heldout_r2_refuses_what_it_cannot_score():
    x, y, groups = synthetic(1.0)
    with pytest.raises(InvalidInputError, match="one row each"):
        heldout_r2(x, y[:-1], groups)
    with pytest.raises(InvalidInputError, match="at least 2 markets"):
        heldout_r2(x, y, np.zeros_like(groups))
    assert np.isnan(heldout_r2(x, np.ones_like(y), groups))  # nothing to explain


@pytest.fixture(scope="module")
def shipped():
    return load_policy(SHIPPED, with_router=False)


def test_masked_firms_are_never_moved_by_a_rivals_summary(shipped):
    policy = SeatedPolicy(SeatedForest([shipped.model], "masked"), shipped.tokenizer)
    figures = measure_channel(policy, markets=20, rounds=8, seed=0, skip=2)
    for name in ("swap_moved", "swap_distance", "leak_moved", "leak_distance"):
        assert figures[name] == 0.0


def test_the_swap_can_fail_shared_firms_are_moved_by_a_rivals_summary(shipped):
    policy = SeatedPolicy(SeatedForest([shipped.model], "shared"), shipped.tokenizer)
    figures = measure_channel(policy, markets=20, rounds=8, seed=0, skip=2)
    assert figures["swap_distance"] > 0.0 and figures["leak_distance"] > 0.0
    # A firm whose own rival was swapped moves more than one moved by the pooling alone.
    assert figures["swap_distance"] > figures["leak_distance"]
    assert {"rival_r2_summary", "rival_r2_context", "rival_gain", "rival_last_gain"} <= set(figures)


def test_measure_channel_refuses_a_skip_past_the_episode(shipped):
    policy = SeatedPolicy(SeatedForest([shipped.model], "shared"), shipped.tokenizer)
    with pytest.raises(InvalidInputError, match="skip"):
        measure_channel(policy, markets=10, rounds=5, seed=0, skip=5)
    with pytest.raises(InvalidInputError, match="markets"):
        measure_channel(policy, markets=4, rounds=5, seed=0, skip=0)
