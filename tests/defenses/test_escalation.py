"""Escalation: its triggers, and a played episode where flagged rounds go to the fallback
model (here the shipped small checkpoint stands in for the large one)."""

from pathlib import Path

import numpy as np
import pytest

from defenses import make_defense
from forest.checkpoints import load_policy
from forest.economy import make_economy
from forest.errors import ConfigError
from redteam.counterfactual import clean_signals, play_twin
from redteam.episodes import fresh_policy

SMALL = str(Path(__file__).parents[2] / "checkpoints" / "small")


def _escalation(**params):
    return make_defense("escalation", {"checkpoint": SMALL, **params})


def test_a_flagged_share_at_the_trigger_escalates_and_the_escalation_holds():
    escalation = _escalation(flagged_share=0.1, hold_rounds=3)
    calm, alarm = np.zeros(20, dtype=bool), np.arange(20) < 2
    sure = np.ones(20)
    decisions = [escalation.escalates(r, alarm if r == 1 else calm, sure) for r in range(6)]
    assert decisions == [False, True, True, True, False, False]


def test_low_confidence_and_high_stakes_rounds_escalate():
    escalation = _escalation(min_confidence=0.6, high_stakes_every=4, hold_rounds=1)
    calm = np.zeros(10, dtype=bool)
    assert escalation.escalates(1, calm, np.full(10, 0.5))
    assert not escalation.escalates(2, calm, np.full(10, 0.9))
    assert escalation.escalates(4, calm, np.full(10, 0.9))


def test_escalated_rounds_are_played_by_the_fallback_and_recorded():
    policy = load_policy(Path(SMALL))
    # An escalation with a trigger every round: the twin's record must say so.
    escalation = _escalation(target_fpr=0.2, high_stakes_every=1)
    escalation.fit(clean_signals(make_economy("supply_chain", 1, n_agents=30),
                                 fresh_policy(policy, True), 6))  # fmt: skip
    escalation.calibrate(clean_signals(make_economy("supply_chain", 2, n_agents=30),
                                       fresh_policy(policy, True), 6))  # fmt: skip
    twin = play_twin(make_economy("supply_chain", 0, n_agents=30), fresh_policy(policy, True),
                     6, escalation)  # fmt: skip
    assert twin.escalated.all()
    never = _escalation(flagged_share=1.0)
    never.fit(clean_signals(make_economy("supply_chain", 1, n_agents=30),
                            fresh_policy(policy, True), 6))  # fmt: skip
    never.calibrate(clean_signals(make_economy("supply_chain", 2, n_agents=30),
                                  fresh_policy(policy, True), 6))  # fmt: skip
    quiet = play_twin(make_economy("supply_chain", 0, n_agents=30), fresh_policy(policy, True),
                      6, never)  # fmt: skip
    assert not quiet.escalated.any()


def test_bad_escalation_params_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="checkpoint: no forest at"):
        make_defense("escalation", {"checkpoint": str(tmp_path)})
    with pytest.raises(ConfigError, match="aggregation: expected plain or one of"):
        _escalation(aggregation="mean")
    with pytest.raises(ConfigError, match="detector: expected one of"):
        _escalation(detector="rate-limit")


def test_masking_leaves_the_rounds_flagged_agents_out_of_the_large_models_pooling():
    flagged = np.arange(10) < 3
    masking = _escalation(mask_flagged=True)
    guard = masking.escalation_target().guard
    assert guard.aggregation_weights(0, 10) is None  # nothing flagged yet
    masking.escalates(0, flagged, np.ones(10))
    assert guard.aggregation_weights(0, 10).tolist() == [0.0] * 3 + [1.0] * 7
    masking.reset()
    assert guard.aggregation_weights(1, 10) is None
    plain = _escalation()
    plain.escalates(0, flagged, np.ones(10))
    assert plain.escalation_target().guard.aggregation_weights(0, 10) is None


def test_mask_flagged_must_be_a_boolean():
    with pytest.raises(ConfigError, match="mask_flagged: expected true/false"):
        _escalation(mask_flagged="yes")
