"""What every attack is: a threat model, parameters, hooks at the forest's intervention points,
and a success test for its own objective.

The harness calls the hooks of one attack object per episode, in this order each round:
``summary_delta`` (the compressed latent, before the forest aggregates it), then ``actions``
(after the forest decided) and ``messages`` (what the compromised agents send). A hook that an
attack does not override leaves its intervention point untouched. Attacks act only on the agents
the threat model gives them; the success test compares each round with the clean twin.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from forest.economy import ROLES, Economy, Messages
from forest.errors import ConfigError
from forest.model.modeling_forest import ForestPreTrainedModel
from forest.params import from_dict, to_dict
from forest.validation import require_float, require_int

KNOWLEDGE = ("black-box", "white-box")


@dataclass(frozen=True)
class ThreatModel:
    """Who the attacker controls and what it knows.

    ``count`` (if set) or ``fraction`` of the agents, at least one, drawn at random among
    ``roles`` (all roles if empty) from the episode's attack stream. ``knowledge`` is what the
    attacker may read: black-box (its agents' observations and outputs) or white-box (the
    model's weights and gradients). ``adaptive`` attacks also see the defense.
    """

    fraction: float = 0.01
    count: int | None = None
    roles: tuple[str, ...] = ()
    knowledge: str = "black-box"
    adaptive: bool = False

    def __post_init__(self) -> None:
        require_float(self.fraction, "fraction", 0.0, 1.0, low_open=True)
        if self.count is not None:
            require_int(self.count, "count", 1)
        for role in self.roles:
            if role not in ROLES:
                raise ConfigError(f"roles: unknown role {role!r}; allowed: {', '.join(ROLES)}")
        if self.knowledge not in KNOWLEDGE:
            raise ConfigError(
                f"knowledge: expected one of {', '.join(KNOWLEDGE)}, got {self.knowledge!r}"
            )

    def choose_agents(self, economy: Economy, rng: np.random.Generator) -> np.ndarray:
        """Sorted ids of the compromised agents."""
        if self.roles:
            wanted = [ROLES.index(r) for r in self.roles]
            pool = np.flatnonzero(np.isin(economy.role, wanted))
        else:
            pool = np.arange(economy.n_agents)
        if pool.size == 0:
            raise ConfigError(
                f"roles: {economy.name} has no agent with role(s) {', '.join(self.roles)}"
            )
        k = self.count if self.count is not None else max(1, round(self.fraction * pool.size))
        if k > pool.size:
            raise ConfigError(f"count: {k} compromised agents, but only {pool.size} eligible")
        return np.sort(rng.choice(pool, size=k, replace=False))


@dataclass(frozen=True)
class AttackParams:
    """Parameters every attack has; subclasses add their own (with defaults)."""

    start_round: int = 0  # the attack acts from this round on

    def __post_init__(self) -> None:
        require_int(self.start_round, "start_round", 0)


@dataclass(frozen=True)
class AttackView:
    """What an attack sees in a round: the world, its agents, and (white-box) the model."""

    round: int
    economy: Economy
    compromised: np.ndarray  # sorted ids
    model: ForestPreTrainedModel
    rng: np.random.Generator  # the attack's own stream: never shared with the world or policy


@dataclass(frozen=True)
class RoundOutcome:
    """One attacked round next to its clean twin, for the attack's success test."""

    round: int
    honest: np.ndarray  # (n,) bool
    actions: np.ndarray  # (n,) attacked episode
    twin_actions: np.ndarray  # (n,) clean twin
    completed: np.ndarray  # (n,) bool
    twin_completed: np.ndarray  # (n,) bool
    action_unit: np.ndarray  # (n,) one action class, per agent


class Attack(ABC):
    """Subclasses set the class attributes, may override hooks, and define ``succeeded``."""

    name: ClassVar[str]
    description: ClassVar[str]
    surface: ClassVar[str]  # the intervention point it acts through
    objective: ClassVar[str]  # what success means, in words
    knowledge: ClassVar[str] = "black-box"  # the least the attack needs
    params_class: ClassVar[type[AttackParams]] = AttackParams

    def __init__(self, params: AttackParams, threat: ThreatModel) -> None:
        if KNOWLEDGE.index(threat.knowledge) < KNOWLEDGE.index(self.knowledge):
            raise ConfigError(
                f"threat.knowledge: {self.name} needs {self.knowledge} access, "
                f"the threat model grants {threat.knowledge}"
            )
        self.params = params
        self.threat = threat

    @classmethod
    def from_config(cls, params: dict[str, Any], threat: dict[str, Any], where: str) -> Attack:
        return cls(
            from_dict(cls.params_class, params, f"{where}.params"),
            from_dict(ThreatModel, threat, f"{where}.threat"),
        )

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "params": to_dict(self.params), "threat": to_dict(self.threat)}

    def active(self, round_: int) -> bool:
        return round_ >= self.params.start_round

    def summary_delta(self, view: AttackView, hidden_size: int) -> torch.Tensor | None:
        """(n, hidden_size) added to the summary tokens, or None."""
        return None

    def actions(self, view: AttackView, actions: np.ndarray) -> np.ndarray:
        return actions

    def messages(self, view: AttackView, messages: Messages) -> Messages:
        return messages

    @abstractmethod
    def succeeded(self, outcome: RoundOutcome) -> bool:
        """Did the attack reach its objective in this round?"""
