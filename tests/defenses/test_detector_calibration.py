"""The must-show of every detector: its flag threshold, calibrated on one clean episode, holds
the target false-positive rate on clean episodes of a seed never used for fitting or
calibrating (within twice the target), on the real shipped forest."""

from pathlib import Path

import numpy as np
import pytest

import forest.economy
from defenses import defense_class, defense_names, make_defense
from forest.checkpoints import load_policy
from redteam.counterfactual import clean_signals
from redteam.episodes import fresh_policy

TARGET_FPR = 0.05
ROUNDS = 20
N_AGENTS = 120
FIT_SEED, CALIBRATION_SEED, HELD_OUT_SEED = 1, 2, 3


@pytest.fixture(scope="module")
def policy():
    return load_policy(Path(__file__).parents[2] / "checkpoints" / "small")


@pytest.fixture(scope="module")
def episodes(policy):
    """Clean rounds of the supply chain for each seed, one fresh policy per episode."""
    return {
        seed: clean_signals(
            forest.economy.make_economy("supply_chain", seed, n_agents=N_AGENTS),
            fresh_policy(policy, True),
            rounds=ROUNDS,
        )
        for seed in (FIT_SEED, CALIBRATION_SEED, HELD_OUT_SEED)
    }


DETECTORS = [name for name in defense_names() if defense_class(name).kind == "detector"]


def test_there_are_at_least_five_detectors():
    assert len(DETECTORS) >= 5, DETECTORS


@pytest.mark.parametrize("name", DETECTORS)
def test_false_positive_rate_on_a_clean_held_out_seed_is_within_twice_the_target(name, episodes):
    detector = make_defense(name, {"target_fpr": TARGET_FPR})
    detector.fit(episodes[FIT_SEED])
    detector.calibrate(episodes[CALIBRATION_SEED])
    detector.reset()
    flagged = np.concatenate([detector.flag(detector.score(r)) for r in episodes[HELD_OUT_SEED]])
    fpr = float(flagged.mean())
    print(f"{name}: clean held-out false-positive rate {fpr:.4f} (target {TARGET_FPR})")
    assert fpr <= 2 * TARGET_FPR, f"{name}: {fpr:.4f} of clean agent-rounds flagged"
