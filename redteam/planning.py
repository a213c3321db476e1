"""The simulator an episode-level attack plans with (``attacks.EpisodeOracle``).

It plays the attacker's candidate policies through the one episode engine, on the cell's
economy and forest, but on the attacker's own seeds: ``PLANNING_SEEDS`` on, which no suite
measures, so a plan never sees the episodes it is scored on. A non-adaptive attacker plans
against the undefended forest; an adaptive one against the deployed defense (its aggregation
and channel filter; escalation is not simulated).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from attacks import Attack
from defenses import Defense
from forest.economy import Economy
from forest.policy import ForestPolicy
from redteam.counterfactual import TwinRecord
from redteam.episodes import Player, play_episode

PLANNING_SEEDS = 900_000  # the attacker's simulated episodes: seeds from here on
PLANNING_STREAM = 0x9A11  # the candidate attack's random stream in them


@dataclass
class SimulatorOracle:
    """``attacks.EpisodeOracle`` over ``seeds``: ``economy_of(seed)`` builds the world,
    ``twin_of(seed)`` is its clean episode (defended as the attacker believes it is), and
    ``policy_of()`` a fresh forest."""

    rounds: int
    roles: tuple[int, ...]
    economy_of: Callable[[int], Economy]
    twin_of: Callable[[int], TwinRecord]
    policy_of: Callable[[], ForestPolicy]
    defense: Defense | None = None

    def harm(self, attack: Attack, episodes: int) -> float:
        lost = []
        for seed in range(PLANNING_SEEDS, PLANNING_SEEDS + episodes):
            economy = self.economy_of(seed)
            rng = np.random.default_rng(np.random.SeedSequence([seed, PLANNING_STREAM]))
            compromised = attack.threat.choose_agents(economy, rng)
            player = Player(self.policy_of(), attack, rng, self.defense)
            record = play_episode(economy, self.rounds, player, compromised)
            window = slice(attack.first_round, self.rounds)
            lost.append(self.twin_of(seed).welfare[window] - np.array(record.welfare)[window])
        return float(np.mean(lost))
