"""Each economy as a PettingZoo ``ParallelEnv`` (the optional ``pettingzoo`` extra).

Every agent is a PettingZoo agent named ``ROLE_INDEX`` (``retailer_17``). Each round all agents
act at once: an integer action in ``[0, n_actions)``, the economy's own (an order quantity, a
price on the grid, a bid or ask level). Observations are the agent's row of the economy's
observation (the features the forest tokenizes). The reward is the economy's own per-agent
figure: 1.0 when the agent completed its task this round, else 0.0; the round's welfare (the
harm metric's unit) and every economy-level figure are in each agent's info. Episodes are
truncated after ``rounds`` rounds; nothing terminates early. ``reset(seed=s)`` plays the
economy of seed ``s``; a ``reset()`` without a seed plays the next seed, so that successive
episodes differ (and a run of them is reproducible from its first seed).

The message channel belongs to the forest's protocol, not PettingZoo's: no messages are
delivered through this interface, so an economy whose experts rely on reports (the supply
chain) plays harder here than under its experts or the forest.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from forest.economy.base import ROLES, InteractionGraph
from forest.economy.registry import economy_class, make_economy
from forest.errors import InvalidInputError
from forest.validation import require_int


class EconomyParallelEnv(ParallelEnv):
    """``economy`` (a registered name) of ``n_agents`` agents for ``rounds`` rounds."""

    def __init__(
        self,
        economy: str,
        n_agents: int = 60,
        rounds: int = 50,
        config: dict[str, Any] | None = None,
    ) -> None:
        economy_class(economy)  # a clear error for an unknown name
        require_int(rounds, "rounds", 1, 1_000_000)
        self.economy_name = economy
        self.rounds = rounds
        self.config = dict(config or {})
        self.metadata = {"name": f"forest_redteam_{economy}", "render_modes": []}
        self._economy = make_economy(economy, 0, n_agents=n_agents, **self.config)
        roles = self._economy.role
        self.possible_agents = [f"{ROLES[r]}_{i}" for i, r in enumerate(roles)]
        self._index = {agent: i for i, agent in enumerate(self.possible_agents)}
        width = self._economy.observe().shape[1]
        self._observation_space = spaces.Box(-np.inf, np.inf, (width,), np.float32)
        self._action_space = spaces.Discrete(self._economy.n_actions)
        self.agents: list[str] = []
        self._round = 0
        self._seed = 0
        self._played = False  # whether reset() has started an episode yet

    def observation_space(self, agent: str) -> spaces.Box:
        return self._observation_space

    def action_space(self, agent: str) -> spaces.Discrete:
        return self._action_space

    def interaction_graph(self) -> InteractionGraph:
        """Who directly affects whom, by agent index (``possible_agents`` order), in the
        economy of the current episode (it may depend on the seed: take it after ``reset``):
        what ``redteam.measure`` attributes infections on."""
        return self._economy.interaction_graph()

    def _observations(self) -> dict[str, np.ndarray]:
        rows = self._economy.observe().astype(np.float32)
        return {agent: rows[i] for agent, i in self._index.items()}

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        if seed is not None:
            self._seed = seed
        elif self._played:
            self._seed += 1
        self._played = True
        n = len(self.possible_agents)
        self._economy = make_economy(self.economy_name, self._seed, n_agents=n, **self.config)
        self._round = 0
        self.agents = list(self.possible_agents)
        return self._observations(), {agent: {} for agent in self.agents}

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        if not self.agents:
            raise InvalidInputError("step: the episode is over; call reset()")
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise InvalidInputError(
                f"actions: every live agent acts each round; missing {missing[:3]}"
            )
        chosen = np.array([int(actions[a]) for a in self.possible_agents], dtype=np.int64)
        result = self._economy.step(chosen)
        self._round += 1
        done = self._round >= self.rounds
        observations = self._observations()
        rewards = {a: float(result.task_completed[i]) for a, i in self._index.items()}
        info = {"round": self._round, **result.metrics}
        infos = {agent: dict(info) for agent in self.agents}
        terminations = dict.fromkeys(self.agents, False)
        truncations = dict.fromkeys(self.agents, done)
        if done:
            self.agents = []
        return observations, rewards, terminations, truncations, infos
