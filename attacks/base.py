"""What every attack is: a threat model, parameters, hooks at the forest's intervention points,
and a success test for its own objective.

The harness calls the hooks of one attack object per episode, in this order each round:
``observations`` (what agents see), ``message_text`` (the words of delivered messages, asked
only of a forest that reads text), ``summary_delta`` (the compressed latent, before the forest
aggregates it), ``sybils`` (fake agents joining the aggregation), ``actions`` (after the
forest decided), ``messages`` (what is sent, before the router) and ``monitored`` (what a detector
reads). A hook that an attack does not override leaves its intervention
point untouched. Attacks act only on the agents the threat
model gives them; the success test compares each round with the clean twin.
"""

from __future__ import annotations

from abc import ABC
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import torch

from attacks.objectives import OBJECTIVES, Objective, RoundOutcome
from forest.economy import ROLES, Economy, Messages
from forest.errors import ConfigError, InvalidInputError
from forest.model.modeling_forest import ForestOutput, ForestPreTrainedModel
from forest.model.robust_aggregation import RobustAggregation
from forest.params import from_dict, to_dict
from forest.policy import ForestPolicy
from forest.validation import require_float, require_int

KNOWLEDGE = ("black-box", "white-box")
SELECTION = ("random", "central")


@dataclass(frozen=True)
class ThreatModel:
    """Who the attacker controls and what it knows.

    ``count`` (if set) or ``fraction`` of the agents, at least one, among ``roles`` (all roles
    if empty): drawn at random from the episode's attack stream, or (``selection = "central"``)
    the most connected ones in the interaction graph (degree, ties broken at random), where an
    attacker does the most damage. ``knowledge`` is what the attacker may read: black-box (its
    agents' observations and outputs) or white-box (the model's weights and gradients).
    ``adaptive`` attacks also see the defense. Budgets (latent norms, message tokens) are each
    attack's own parameters.
    """

    fraction: float = 0.01  # share of the agents compromised (at least one)
    count: int | None = None  # or this many, if set
    roles: tuple[str, ...] = ()  # drawn among these roles only (empty: every role)
    selection: str = "random"  # "random", or "central": the most connected agents
    knowledge: str = "black-box"  # "black-box" or "white-box" (weights and gradients)
    adaptive: bool = False  # the attack is shown the deployed defense

    def __post_init__(self) -> None:
        require_float(self.fraction, "fraction", 0.0, 1.0, low_open=True)
        if self.count is not None:
            require_int(self.count, "count", 1)
        for role in self.roles:
            if role not in ROLES:
                raise ConfigError(f"roles: unknown role {role!r}; allowed: {', '.join(ROLES)}")
        if self.selection not in SELECTION:
            raise ConfigError(
                f"selection: expected one of {', '.join(SELECTION)}, got {self.selection!r}"
            )
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
        if self.selection == "random":
            return np.sort(rng.choice(pool, size=k, replace=False))
        graph = economy.interaction_graph()
        degree = np.bincount(np.concatenate([graph.src, graph.dst]), minlength=economy.n_agents)
        tie_break = rng.random(pool.size)
        order = np.lexsort((tie_break, -degree[pool]))
        return np.sort(pool[order[:k]])


@dataclass(frozen=True)
class AttackParams:
    """Parameters every attack has; subclasses add their own and may change the defaults."""

    start_round: int = 0  # the attack acts from this round on
    objective: str = "untargeted"  # see attacks.objectives
    success_margin: float | None = None  # None: the objective's default margin

    def __post_init__(self) -> None:
        require_int(self.start_round, "start_round", 0)
        if self.objective not in OBJECTIVES:
            raise ConfigError(
                f"objective: unknown objective {self.objective!r}; allowed: {', '.join(OBJECTIVES)}"
            )
        if self.success_margin is not None:
            require_float(self.success_margin, "success_margin", 0.0, 1000.0)


@dataclass(frozen=True)
class Plan:
    """What an episode-level attack's search found, and what the search cost: its compute is
    reported with every result the plan produces."""

    policy: dict[str, Any]  # the attack policy found (the attack reads it back in ``adopt``)
    queries: int  # simulated episodes the search played
    seconds: float  # wall time of the search
    harm: float  # the best policy's harm on the attacker's own simulated episodes


class EpisodeOracle(Protocol):
    """The simulator an episode-level attack plans with: the deployed economy and forest on the
    attacker's own seeds (never the episodes it is measured on), from the harness."""

    rounds: int  # the episode's length
    roles: tuple[int, ...]  # role ids present in the economy

    def harm(self, attack: Attack, episodes: int) -> float:
        """Mean welfare lost per round against the clean twin, from the attack's first round,
        over ``episodes`` simulated episodes of the attacker's own (the same ones at every
        call), with ``attack`` (a fresh instance) playing."""
        ...


@runtime_checkable
class DetectorView(Protocol):
    """What an adaptive attacker may read of the detector it must evade."""

    threshold: float | None  # the calibrated flag threshold (None: not calibrated)

    def differentiable_score(
        self, summaries: torch.Tensor, roles: np.ndarray, log_shares: torch.Tensor
    ) -> torch.Tensor | None: ...


@runtime_checkable
class DefenseView(Protocol):
    """What an adaptive attacker may read of the deployed defense (``defenses.Defense``
    provides it; attacks never import defenses): its detector, and how it changes the forest's
    aggregation, so that the attacker's replay of the forest runs as deployed."""

    @property
    def detector(self) -> DetectorView | None: ...

    def aggregation_weights(self, round_: int, n_agents: int) -> np.ndarray | None: ...

    def robust_aggregation(self) -> RobustAggregation | None: ...


@dataclass(frozen=True)
class AttackView:
    """What an attack sees in a round: the world, its agents, and (white-box) the forest.

    ``policy`` is the deployed forest with its memory of last round; white-box attacks read
    its inputs (``policy.model_inputs(economy)``) and differentiate through ``policy.model``.
    ``defense`` is the deployed defense, fitted and calibrated, shown only to an adaptive
    attacker (``ThreatModel.adaptive``); None otherwise. ``output`` is the forest's output of
    this round, given to the ``actions`` hook only (it comes after the forest decided): an
    attack may read its own agents' rows of it, as the agents themselves would.
    """

    round: int
    economy: Economy
    compromised: np.ndarray  # sorted ids
    policy: ForestPolicy
    rng: np.random.Generator  # the attack's own stream: never shared with the world or policy
    defense: DefenseView | None = None
    output: ForestOutput | None = None

    @property
    def model(self) -> ForestPreTrainedModel:
        return self.policy.model

    @property
    def honest(self) -> np.ndarray:
        """(n,) bool: the agents the attacker does not control."""
        mask = np.ones(self.economy.n_agents, dtype=bool)
        mask[self.compromised] = False
        return mask


class Attack(ABC):
    """Subclasses set the class attributes and override the hooks they act through."""

    name: ClassVar[str]
    description: ClassVar[str]
    surface: ClassVar[str]  # the intervention point it acts through
    objective: ClassVar[str]  # what success means, in words
    knowledge: ClassVar[str] = "black-box"  # the least the attack needs
    params_class: ClassVar[type[AttackParams]] = AttackParams
    # MITRE ATLAS and OWASP entries that fit it (ids of attacks.threat_tags.TAG_NAMES)
    threat_tags: ClassVar[tuple[str, ...]] = ()

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

    @property
    def first_round(self) -> int:
        """The first round the attack acts in: its success and spread count from there."""
        return self.params.start_round

    def active(self, round_: int) -> bool:
        return round_ >= self.first_round

    def check(self, economy: Economy, rounds: int) -> None:
        """Raise ConfigError if the attack cannot act on ``economy`` in a ``rounds``-round
        episode (the suite checks this before anything runs)."""
        if self.params.start_round >= rounds:
            raise ConfigError(
                f"start_round: expected < rounds ({rounds}), got {self.params.start_round}"
            )
        if self.objective.success == "welfare-drop" and economy.welfare_surrogate() is None:
            raise ConfigError(
                f"objective: {self.params.objective!r} climbs the economy's welfare surrogate, "
                f"and {economy.name} offers none"
            )

    def plan(self, oracle: EpisodeOracle) -> Plan | None:
        """Search the attack's policy over whole episodes with the simulator, before any
        measured episode; None: nothing to plan (a one-round attack decides as it goes)."""
        return None

    def adopt(self, plan: Plan) -> None:
        """Play ``plan`` (from ``plan``, maybe of another instance with the same settings)."""
        raise InvalidInputError(f"{self.name} plans nothing, so it has no plan to adopt")

    def observations(self, view: AttackView, observations: np.ndarray) -> np.ndarray | None:
        """What every agent observes this round, (n, F); None keeps the truth."""
        return None

    def summary_delta(self, view: AttackView, hidden_size: int) -> torch.Tensor | None:
        """(n, hidden_size) added to the summary tokens, or None."""
        return None

    def sybils(
        self, view: AttackView, hidden_size: int
    ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Fake agents joining the aggregation this round: summaries (s, d) and trees (s,)."""
        return None

    def message_text(self, view: AttackView) -> dict[int, str] | None:
        """Words that some delivered messages say instead of their tokens (index into
        ``view.economy.inbox`` -> text); asked only of forests that read text. None: none."""
        return None

    def actions(self, view: AttackView, actions: np.ndarray) -> np.ndarray:
        return actions

    def monitored(
        self, view: AttackView, summaries: np.ndarray, attention_share: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray | None] | None:
        """What the defense's monitor reads this round in place of the forest's own: every
        agent's summary (n, d) and attention share (n,) (None where the model has no slots);
        None: the forest's. Only a measurement device uses it (the ``decoy`` check): in a
        deployment the monitor reads what the forest computes."""
        return None

    def messages(self, view: AttackView, messages: Messages) -> Messages:
        return messages

    @property
    def objective(self) -> Objective:
        return OBJECTIVES[self.params.objective]

    def succeeded(self, outcome: RoundOutcome) -> bool:
        """Did the attack reach its objective in this round?"""
        return self.objective.succeeded(outcome, self.params.success_margin)
