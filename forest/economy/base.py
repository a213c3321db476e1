"""What every economy provides: the protocol that policies, the forest and the red-team harness use.

An economy holds the state of ``n_agents`` agents in flat numpy arrays (axis 0 = agent) and
advances it one round at a time with vectorised array code, never a Python loop over agents.
Each round a policy reads ``observe()`` (and the messages in ``inbox``), chooses integer actions
and outgoing messages, and calls ``step``. Everything random is drawn from generators seeded at
construction, so the same seed and the same actions replay the same trajectory.

Random draws that belong to an agent are taken in the agents' canonical order and looked up
through ``uid`` (the id an agent was created with), so that ``relabel(perm)`` yields an economy
whose trajectory is the original one with agents permuted: the equivariance property tests use.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from scipy import sparse
from scipy.sparse import csgraph

from forest.economy.config import EconomyConfig
from forest.economy.messages import Messages, validate_messages
from forest.errors import InvalidInputError
from forest.validation import as_int_array

# One role vocabulary across economies, so that a single model can tell every agent apart.
ROLES = ("supplier", "warehouse", "retailer", "firm", "buyer", "seller")
ROLE_ID = {name: i for i, name in enumerate(ROLES)}

# Every agent's distribution over the economy's actions this round, (n, n_actions)
# probabilities (not a model's action classes: ``attacks.latent`` maps those to actions) ->
# the round's welfare, differentiably (``Economy.welfare_surrogate``).
WelfareSurrogate = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class RoundResult:
    """What one round produced."""

    task_completed: np.ndarray  # (n,) bool: did each agent complete its task this round
    metrics: dict[str, float] = field(default_factory=dict)  # economy-level figures of the round


@dataclass(frozen=True)
class InteractionGraph:
    """Directed edges ``src -> dst``: the actions or messages of ``src`` affect ``dst`` directly."""

    n_agents: int
    src: np.ndarray
    dst: np.ndarray

    def adjacency(self) -> sparse.csr_matrix:
        data = np.ones(self.src.shape[0], dtype=np.int8)
        shape = (self.n_agents, self.n_agents)
        return sparse.csr_matrix((data, (self.src, self.dst)), shape=shape)

    def hop_distance(self, sources: np.ndarray) -> np.ndarray:
        """Fewest edges from any of ``sources`` to each agent; -1 where unreachable."""
        sources = np.asarray(sources, dtype=np.int64)
        if sources.size == 0:
            return np.full(self.n_agents, -1, dtype=np.int64)
        dist = csgraph.dijkstra(
            self.adjacency(), directed=True, unweighted=True, indices=sources, min_only=True
        )
        return np.where(np.isfinite(dist), dist, -1).astype(np.int64)


class Economy(ABC):
    """Base class of the vectorised economies. Subclasses register themselves by ``name``."""

    name: ClassVar[str]
    description: ClassVar[str]
    config_class: ClassVar[type[EconomyConfig]]
    # Every round's metrics carry "welfare": the economy's own measure of how well it went for
    # the people it serves (higher is better); this says what it is. Harm is welfare lost.
    welfare_name: ClassVar[str]
    observation_names: ClassVar[tuple[str, ...]]
    # Per-agent state attributes (axis 0 = agent) and those among them that hold agent ids;
    # ``relabel`` permutes the first and renumbers the second.
    agent_arrays: ClassVar[tuple[str, ...]]
    agent_id_arrays: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: EconomyConfig, seed: int) -> None:
        if not isinstance(config, self.config_class):
            raise InvalidInputError(
                f"config: {self.name} takes a {self.config_class.__name__}, "
                f"got {type(config).__name__}"
            )
        if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
            raise InvalidInputError(f"seed: expected a non-negative integer, got {seed!r}")
        self.config = config
        self.seed = int(seed)
        self.round = 0
        self.inbox = Messages.empty()
        self.uid = np.arange(config.n_agents, dtype=np.int64)
        # Separate streams so that what a policy draws never changes what the world draws.
        world_seed, policy_seed = np.random.SeedSequence(self.seed).spawn(2)
        self.rng = np.random.default_rng(world_seed)
        self.policy_rng = np.random.default_rng(policy_seed)

    @property
    def n_agents(self) -> int:
        return self.config.n_agents

    @property
    @abstractmethod
    def n_actions(self) -> int:
        """Actions are integers in ``[0, n_actions - 1]``."""

    @property
    @abstractmethod
    def role(self) -> np.ndarray:
        """(n,) int64 role ids into ``ROLES``."""

    @abstractmethod
    def observe(self) -> np.ndarray:
        """(n, len(observation_names)) float32 features of each agent's view this round."""

    @abstractmethod
    def expert(self) -> tuple[np.ndarray, Messages]:
        """The reference policy: actions (n,) and outgoing messages for this round."""

    @abstractmethod
    def are_neighbours(self, sender: np.ndarray, receiver: np.ndarray) -> np.ndarray:
        """(M,) bool: may ``sender[k]`` message ``receiver[k]``."""

    @abstractmethod
    def interaction_graph(self) -> InteractionGraph: ...

    @abstractmethod
    def tree_ids(self) -> np.ndarray:
        """(n,) int64: each agent's tree, the first level of the forest's hierarchy (a market,
        a supplier with its warehouses and retailers)."""

    @abstractmethod
    def message_recipients(self) -> tuple[np.ndarray, np.ndarray]:
        """(sender, receiver) pairs: where each agent's own message goes every round."""

    def action_unit(self) -> np.ndarray:
        """(n,) the action one step of a learned policy's action head stands for, per agent."""
        return np.ones(self.n_agents)

    def welfare_surrogate(self) -> WelfareSurrogate | None:
        """This round's welfare, in the units of ``welfare_name``, as a differentiable function
        of the agents' action distributions: a one-round stand-in for ``step``, whose integer
        actions and rationing are not differentiable. White-box attacks climb the loss of it
        (the ``harm`` objective). None: the economy offers none."""
        return None

    def broadcast(self, tokens: np.ndarray) -> Messages:
        """Every agent's message ``tokens[i]`` (n, MESSAGE_LEN) sent to its recipients."""
        sender, receiver = self.message_recipients()
        return Messages(sender, receiver, np.asarray(tokens).take(sender, axis=0))

    @abstractmethod
    def episode_metrics(self) -> dict[str, float]:
        """The economy's own metrics over the rounds played so far."""

    @abstractmethod
    def _transition(self, actions: np.ndarray) -> RoundResult:
        """Advance the world by one round given validated actions."""

    @abstractmethod
    def _read_inbox(self) -> None:
        """Update what agents know from the messages just delivered to ``self.inbox``."""

    def step(self, actions: Any, messages: Messages | None = None) -> RoundResult:
        """Play one round. ``messages`` (None: channel cut) are delivered at the next round."""
        actions = as_int_array(actions, "actions", (self.n_agents,), 0, self.n_actions - 1)
        if messages is None:
            messages = Messages.empty()
        validate_messages(messages, self.n_agents)
        if len(messages):
            bad = ~self.are_neighbours(messages.sender, messages.receiver)
            if bad.any():
                k = int(np.argmax(bad))
                raise InvalidInputError(
                    f"messages: agent {int(messages.sender[k])} cannot message agent "
                    f"{int(messages.receiver[k])}: only neighbours in the interaction graph can"
                )
        result = self._transition(actions)
        self.inbox = messages
        self._read_inbox()
        self.round += 1
        return result

    def relabel(self, perm: np.ndarray) -> Economy:
        """A copy in which the agent now at index ``j`` is the agent that was at ``perm[j]``."""
        perm = np.asarray(perm, dtype=np.int64)
        if perm.shape != (self.n_agents,) or not np.array_equal(
            np.sort(perm), np.arange(self.n_agents)
        ):
            raise InvalidInputError(f"perm: expected a permutation of range({self.n_agents})")
        new_index = np.empty_like(perm)
        new_index[perm] = np.arange(self.n_agents)
        other = copy.deepcopy(self)
        other.uid = self.uid[perm]
        for name in self.agent_arrays:
            setattr(other, name, getattr(self, name)[perm])
        for name in self.agent_id_arrays:
            ids = getattr(other, name)
            setattr(other, name, np.where(ids >= 0, new_index[np.maximum(ids, 0)], ids))
        other.inbox = self.inbox.relabel(new_index)
        return other
