"""The episode engine: the order of a round, observers, the market's posting, the probe, and the
declared protocols it drives policies, attacks and defenses through."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from attacks import DefenseView, ThreatModel
from attacks.cartels import CartelAttack, CartelParams, pricing_messages
from defenses import defense_names, make_defense
from forest.economy import make_economy
from forest.economy.messages import PRICE
from forest.expert_policy import ExpertPolicy
from forest.policy import ForestPolicy
from redteam.collusion.probe import Probed
from redteam.episodes import NOBODY, Player, play_episode, play_round

ROUNDS = 6


class Log:
    """Records which hook saw which round, and what the economy returned."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []
        self.completed: list[np.ndarray] = []

    def before_step(self, round_, economy, played) -> None:
        self.events.append(("before", round_))

    def after_step(self, round_, economy, played, result) -> None:
        self.events.append(("after", round_))
        self.completed.append(result.task_completed)


def pricing(n_agents: int = 40, seed: int = 0):
    return make_economy("pricing", seed, n_agents=n_agents)


def test_observers_see_every_round_before_and_after_the_economy_steps():
    log = Log()
    record = play_episode(pricing(), ROUNDS, Player(ExpertPolicy()), NOBODY, observers=[log])
    expected = [(when, r) for r in range(ROUNDS) for when in ("before", "after")]
    assert log.events == expected
    np.testing.assert_array_equal(np.stack(log.completed), np.stack(record.completed))


def test_the_expert_played_through_the_engine_is_the_expert():
    """No attack, no defense: the engine adds nothing to what the policy decides."""
    played, by_hand = pricing(), pricing()
    record = play_episode(played, ROUNDS, Player(ExpertPolicy()), NOBODY)
    for r in range(ROUNDS):
        actions, messages = by_hand.expert()
        np.testing.assert_array_equal(record.actions[r], actions)
        by_hand.step(actions, messages)


def _cartel(strategy: str) -> tuple[CartelAttack, np.ndarray]:
    economy = pricing()
    members = np.zeros((economy.k, economy.n_markets), dtype=bool)
    members[:] = True
    attack = CartelAttack(CartelParams(strategy=strategy, start_round=1), ThreatModel())
    return attack, np.flatnonzero(economy.to_agents(members))


def test_a_posting_replaces_the_policy_messages_before_the_attack_edits_them():
    """Firms post what they charge; a message-run cartel's leaders then quote the target."""
    attack, compromised = _cartel("message-leader")
    economy = pricing()
    player = Player(ExpertPolicy(), attack, np.random.default_rng(1))
    posting = lambda e, a: pricing_messages(e, e.by_market(a))  # noqa: E731
    play_round(economy, player, compromised, 0, posting)
    played = play_round(economy, player, compromised, 1, posting)
    messages = played.step.messages
    quotes = messages.kinds == PRICE
    cartel = attack._cartel_for(None)
    leaders = economy.to_agents(np.arange(economy.k)[:, None] == cartel.leader)
    leading = quotes & leaders[messages.sender]
    following = quotes & ~leaders[messages.sender]
    announced = attack._announced[economy.market[messages.sender[leading]]]
    np.testing.assert_array_equal(messages.values[leading], announced)
    np.testing.assert_array_equal(
        messages.values[following], played.actions[messages.sender[following]]
    )


def test_the_probe_forces_firm_zero_down_in_its_round_only():
    economy = pricing()
    player = Player(ExpertPolicy(), Probed(None, 2))
    posting = lambda e, a: pricing_messages(e, e.by_market(a))  # noqa: E731
    for r in range(4):
        played = play_round(economy, player, NOBODY, r, posting)
        firm0 = economy.by_market(played.actions)[0]
        quotes = played.step.messages
        zero_quotes = quotes.values[
            (quotes.kinds == PRICE) & (economy.seat[quotes.sender] < economy.n_markets)
        ]
        if r == 2:
            assert (firm0 == 0).all() and (zero_quotes == 0).all()
        else:
            assert firm0.any()
        economy.step(played.actions, played.step.messages)


def test_policy_act_takes_the_economy_and_one_interventions_value():
    parameters = list(inspect.signature(ForestPolicy.act).parameters)
    assert parameters == ["self", "economy", "interventions"]


@pytest.mark.parametrize("name", [n for n in defense_names() if n != "escalation"])
def test_every_registered_defense_provides_what_an_adaptive_attacker_reads(name):
    defense = make_defense(name, {})
    assert isinstance(defense, DefenseView)
    assert defense.escalation_target() is None
