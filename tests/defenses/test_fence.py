"""Fence: flagged agents keep their last trusted action; an episode under it carries out the
fenced actions (the economy steps with them)."""

from copy import deepcopy
from pathlib import Path

import numpy as np
import pytest

from defenses import make_defense
from forest.checkpoints import load_policy
from forest.economy import make_economy
from forest.errors import ConfigError
from redteam.counterfactual import clean_signals
from redteam.episodes import NOBODY, Player, fresh_policy, play_episode

SMALL = Path(__file__).parents[2] / "checkpoints" / "small"


class SteppedWith:
    """Checks each round that the economy stepped with the actions the episode records."""

    def __init__(self):
        self.expected, self.checked = None, 0

    def before_step(self, round_, economy, played):
        copy = deepcopy(economy)
        self.expected = copy.step(played.actions, played.step.messages).metrics["welfare"]

    def after_step(self, round_, economy, played, result):
        assert result.metrics["welfare"] == self.expected
        self.checked += 1


def test_a_flagged_agent_keeps_its_last_trusted_action_while_fenced_then_acts_again():
    fence = make_defense("fence", {"rounds": 1})
    calm = np.zeros(4, dtype=bool)
    flag_1 = np.array([False, True, False, False])
    assert fence.executed_actions(0, calm, np.array([1, 2, 3, 4])).tolist() == [1, 2, 3, 4]
    # Flagged in round 1: fenced in rounds 1 and 2, holding its round-0 action.
    assert fence.executed_actions(1, flag_1, np.array([5, 9, 7, 8])).tolist() == [5, 2, 7, 8]
    assert fence.executed_actions(2, calm, np.array([5, 9, 7, 8])).tolist() == [5, 2, 7, 8]
    assert fence.executed_actions(3, calm, np.array([6, 9, 7, 8])).tolist() == [6, 9, 7, 8]


def test_an_agent_flagged_before_it_was_ever_trusted_acts_as_decided_and_reset_forgets():
    fence = make_defense("fence", {"rounds": 5})
    first = np.array([True, False])
    assert fence.executed_actions(0, first, np.array([3, 4])).tolist() == [3, 4]
    assert fence.executed_actions(1, np.zeros(2, dtype=bool), np.array([7, 8])).tolist() == [7, 8]
    fence.reset()
    assert fence.executed_actions(0, np.array([False, True]), np.array([1, 2])).tolist() == [1, 2]


def test_the_economy_steps_with_the_fenced_actions():
    policy = load_policy(SMALL)
    # A fence on a detector that flags a quarter of every clean round: some agents are held.
    fence = make_defense("fence", {"target_fpr": 0.25, "rounds": 2})
    fence.fit(clean_signals(make_economy("supply_chain", 1, n_agents=30),
                            fresh_policy(policy, True), 6))  # fmt: skip
    fence.calibrate(clean_signals(make_economy("supply_chain", 2, n_agents=30),
                                  fresh_policy(policy, True), 6))  # fmt: skip
    rng = np.random.default_rng(0)
    player = Player(fresh_policy(policy, True), None, rng, fence)
    stepped = SteppedWith()
    fenced = play_episode(
        make_economy("supply_chain", 0, n_agents=30), 8, player, NOBODY, observers=[stepped]
    )
    assert stepped.checked == 8  # the economy moved as the fenced actions say, every round
    flagged, actions = np.array(fenced.flagged), np.array(fenced.actions)
    # Newly flagged in round r (not fenced in r - 1: no flag in r - 3 .. r - 1), so it carries
    # out its round r - 1 action, which it executed unflagged.
    newly = [(r, a) for r in range(3, 8) for a in range(30)
             if flagged[r, a] and not flagged[r - 3 : r, a].any()]  # fmt: skip
    assert newly
    assert all(actions[r, a] == actions[r - 1, a] for r, a in newly)
    free = Player(fresh_policy(policy, True), None, rng, None)
    unfenced = play_episode(make_economy("supply_chain", 0, n_agents=30), 8, free, NOBODY)
    assert not np.array_equal(actions, np.array(unfenced.actions))


def test_bad_fence_params_are_clear_errors():
    with pytest.raises(ConfigError, match="rounds"):
        make_defense("fence", {"rounds": -1})
    with pytest.raises(ConfigError, match="detector: expected one of"):
        make_defense("fence", {"detector": "fence"})
