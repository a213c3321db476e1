"""The placebo spends the attack's own budget at random: the same rows, the same norms, the same
messages and agents touched, none of its aim."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attacks import AttackView, ThreatModel, make_attack
from attacks.base import Attack, AttackParams
from attacks.placebo import Placebo
from forest.economy import Messages, make_economy
from forest.errors import ConfigError


class Aimed(Attack):
    """Pushes agent 0's summary along one fixed axis, sets its action to 3 and rewrites its
    first message."""

    name = "aimed"
    description = "a fixed, aimed perturbation"
    surface = "summary tokens, actions and messages"

    def summary_delta(self, view, hidden_size):
        delta = torch.zeros(view.economy.n_agents, hidden_size)
        delta[0, 0] = 5.0
        return delta

    def actions(self, view, actions):
        out = actions.copy()
        out[0] = 3
        return out

    def messages(self, view, messages):
        tokens = messages.tokens.copy()
        tokens[0, 1:] = tokens[0, 1:] + 1
        return Messages(messages.sender, messages.receiver, tokens)


def view(seed: int = 0) -> AttackView:
    economy = make_economy("supply_chain", 0, n_agents=30)
    return AttackView(0, economy, np.array([0]), None, np.random.default_rng(seed))


def test_a_placebo_keeps_the_norm_of_each_perturbed_row_and_loses_its_direction():
    v = view()
    aimed = Aimed(AttackParams(), ThreatModel())
    delta = Placebo(aimed).summary_delta(v, 16)
    assert torch.count_nonzero(delta.norm(dim=1)) == 1
    assert delta[0].norm().item() == pytest.approx(5.0, rel=1e-5)
    assert abs(delta[0, 0].item()) < 5.0  # not along the attack's axis


def test_a_placebo_changes_the_same_actions_and_rewrites_the_same_messages_at_random():
    v = view()
    placebo = Placebo(Aimed(AttackParams(), ThreatModel()))
    actions = np.zeros(30, dtype=np.int64)
    played = placebo.actions(v, actions)
    assert (played[1:] == 0).all()
    actions, messages = v.economy.expert()
    edited = placebo.messages(v, messages)
    changed = (edited.tokens != messages.tokens).any(axis=1)
    assert set(np.flatnonzero(changed)) <= {0}
    np.testing.assert_array_equal(edited.kinds, messages.kinds)


def test_a_placebo_of_a_null_attack_does_nothing():
    v = view()
    placebo = Placebo(make_attack("null"))
    assert placebo.summary_delta(v, 16) is None
    actions, messages = v.economy.expert()
    assert placebo.messages(v, messages) is messages
    np.testing.assert_array_equal(placebo.actions(v, actions), actions)


def test_words_have_no_budget_to_spend_at_random():
    attack = make_attack("prompt-injection")
    with pytest.raises(ConfigError, match="placebo"):
        Placebo(attack).check(make_economy("supply_chain", 0, n_agents=30), 10)


def test_the_decoy_is_a_measurement_device_without_a_placebo():
    with pytest.raises(ConfigError, match="measurement device"):
        Placebo(make_attack("decoy")).check(make_economy("supply_chain", 0, n_agents=30), 10)
