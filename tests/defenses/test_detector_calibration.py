"""The must-show of every detector, both ways, on the real shipped forest: its flag threshold,
calibrated on one clean episode, holds the target false-positive rate on clean episodes of a
seed never used for fitting or calibrating (within twice the target), and at that threshold it
catches agents planted far out in what it reads."""

import dataclasses
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
PLANTED = (0, 20, 60)  # a supplier, a warehouse and a retailer of the 120-agent supply chain
FAR = 10.0  # how far out a planted agent is, in clean standard deviations of its role


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


def planted(rounds, clean, rng):
    """``rounds`` with the ``PLANTED`` agents ``FAR`` clean standard deviations of their role
    out in every coordinate of their summary, in a fresh direction each round, and ``FAR``
    times their attention share: far out in all a detector reads."""
    summaries = np.concatenate([r.summaries for r in clean])
    roles = np.concatenate([r.roles for r in clean])
    ids = np.array(PLANTED)
    std = np.stack([summaries[roles == r].std(axis=0) for r in clean[0].roles[ids]])
    out = []
    for r in rounds:
        shown = r.summaries.copy()
        shown[ids] += FAR * std * rng.choice([-1.0, 1.0], std.shape)
        share = r.attention_share.copy()
        share[ids] *= FAR
        out.append(dataclasses.replace(r, summaries=shown, attention_share=share))
    return out


def test_the_planted_agents_are_one_of_each_supply_chain_role(episodes):
    assert sorted(episodes[FIT_SEED][0].roles[list(PLANTED)]) == [0, 1, 2]


@pytest.mark.parametrize("name", DETECTORS)
def test_agents_planted_far_out_are_caught_at_the_calibrated_threshold(name, episodes):
    detector = make_defense(name, {"target_fpr": TARGET_FPR})
    detector.fit(episodes[FIT_SEED])
    detector.calibrate(episodes[CALIBRATION_SEED])
    detector.reset()
    rounds = planted(episodes[HELD_OUT_SEED], episodes[FIT_SEED], np.random.default_rng(0))
    caught = np.stack([detector.flag(detector.score(r))[list(PLANTED)] for r in rounds])
    print(f"{name}: {caught.mean():.3f} of planted agent-rounds caught")
    # Temporal drift has no last round to compare the first with: one round in twenty.
    assert caught.mean() >= 0.9, f"{name}: caught {caught.mean():.3f} of planted agent-rounds"


def test_the_signals_carry_the_forests_trees_the_economys_own(episodes):
    """Neighbour disagreement's neighbourhoods: the trees the forest pooled over are the
    economy's, numbered from 0."""
    economy = forest.economy.make_economy("supply_chain", HELD_OUT_SEED, n_agents=N_AGENTS)
    _, expected = np.unique(economy.tree_ids(), return_inverse=True)
    for signals in episodes[HELD_OUT_SEED]:
        np.testing.assert_array_equal(signals.tree, expected)
