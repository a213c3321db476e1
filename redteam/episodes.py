"""Playing the episodes of a cell: the clean twin, the attacked episode, clean calibration rounds.

The attacked episode and its twin share the seed, the model and the economy config, so they
are the same episode until the attack first acts; the twin's record is what every propagation
and success figure compares against, round by round. Records hold per-round, per-agent arrays.

A defended cell plays its twin defended too (the counterfactual of an attack on a defended
forest is the defended forest, unattacked). Under an escalation defense a round the small forest
plays may be replayed by the large model, which then decides it; the attack acts on that replay
through a second instance of itself, against the large model's latent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from attacks import Attack, AttackView, RoundOutcome
from defenses import Channel, Defense, RoundSignals, round_signals
from forest.economy import Economy, Messages, economy_class, make_economy
from forest.policy import ForestPolicy, PolicyStep


def build_economy(name: str, config: dict, seed: int) -> Economy:
    cls = economy_class(name)
    return make_economy(name, seed, config=cls.config_class.from_dict(config))


def fresh_policy(policy: ForestPolicy, use_router: bool) -> ForestPolicy:
    """The same weights with no memory: one per episode."""
    return ForestPolicy(policy.model, policy.tokenizer, policy.router if use_router else None)


@dataclass(frozen=True)
class TwinRecord:
    """The clean episode: (R, n) arrays, and (R,) which rounds were escalated."""

    actions: np.ndarray
    completed: np.ndarray
    action_unit: np.ndarray
    escalated: np.ndarray


@dataclass(frozen=True)
class AttackRecord:
    """The attacked episode: (R, n) arrays, per-round figures, and the compromised agents."""

    actions: np.ndarray
    completed: np.ndarray
    scores: np.ndarray | None  # detector scores, None without a detector
    flagged: np.ndarray | None
    rejected: int  # messages the defense's channel filter refused
    escalated: np.ndarray  # (R,) bool: the large model played the round
    success: np.ndarray  # (R,) bool: the attack's objective reached (False before it starts)
    latency_ms: np.ndarray  # (R,) wall time of the policy's round (the forest and router)
    tokens_offered: int
    tokens_delivered: int
    compromised: np.ndarray  # sorted ids
    hops: np.ndarray  # (n,) hop distance from the nearest compromised agent (-1: unreachable)


def _weights(defense: Defense | None, round_: int, n: int) -> torch.Tensor | None:
    weights = None if defense is None else defense.aggregation_weights(round_, n)
    return None if weights is None else torch.from_numpy(weights.astype(np.float32))


@dataclass(frozen=True)
class Player:
    """Who plays a round: a policy and the attack instance that acts on it (None: no attack)."""

    policy: ForestPolicy
    attack: Attack | None
    rng: np.random.Generator


@dataclass
class Played:
    step: PolicyStep
    actions: np.ndarray  # after the attack's action hook
    latency_ms: float
    refused: int


def play_round(
    economy: Economy,
    player: Player,
    defense: Defense | None,
    compromised: np.ndarray,
    round_: int,
    escalated: bool = False,
) -> Played:
    """One round by ``player``: the attack's hooks, the defense's hooks, the forest. An
    escalated round runs under the escalation's guard of the large model."""
    if escalated:
        defense = defense.large_defense()
    attack, policy, n = player.attack, player.policy, economy.n_agents
    shown = defense if attack is not None and attack.threat.adaptive else None
    view = AttackView(round_, economy, compromised, policy, player.rng, shown)
    hidden = policy.model.config.hidden_size
    hook_seconds, refused = [0.0], [0]

    def edit_messages(messages: Messages) -> Messages:
        began = time.perf_counter()
        edited = messages if attack is None else attack.messages(view, messages)
        hook_seconds[0] += time.perf_counter() - began
        if defense is None:
            return edited
        kept = defense.filter_messages(Channel(round_, n, messages, edited, compromised))
        refused[0] = len(edited) - len(kept)
        return kept

    hooks = {}
    if attack is not None:
        hooks = {
            "observations": attack.observations(view, economy.observe()),
            "message_text": attack.message_text(view) if policy.reads_text else None,
            "summary_delta": attack.summary_delta(view, hidden),
            "sybils": attack.sybils(view, hidden),
        }
    defended = {
        "aggregation_weights": _weights(defense, round_, n),
        "robust_aggregation": None if defense is None else defense.robust_aggregation(),
    }
    started = time.perf_counter()
    step = policy.act(economy, edit_messages=edit_messages, **hooks, **defended)
    # The forest's own time: an attack's search inside the message hook is not the forest's.
    latency = 1000 * (time.perf_counter() - started - hook_seconds[0])
    if attack is None:
        actions = step.actions
    else:
        actions = attack.actions(replace(view, output=step.output), step.actions)
    return Played(step, actions, latency, refused[0])


@dataclass
class Episode:
    """Per-round records of one episode, defended by ``defense`` (possibly None)."""

    actions: list = field(default_factory=list)
    completed: list = field(default_factory=list)
    units: list = field(default_factory=list)
    scores: list = field(default_factory=list)
    flagged: list = field(default_factory=list)
    escalated: list = field(default_factory=list)
    latency_ms: list = field(default_factory=list)
    offered: int = 0
    delivered: int = 0
    rejected: int = 0


def play_episode(
    economy: Economy,
    rounds: int,
    small: Player,
    large: Player | None,
    defense: Defense | None,
    compromised: np.ndarray,
    on_round: Callable[[int, np.ndarray, np.ndarray], None] = lambda r, a, c: None,
) -> Episode:
    """Every round: the small forest plays, the defense scores it, an escalation may hand it to
    ``large``; ``on_round(round, actions, task_completed)`` sees each round's outcome."""
    if defense is not None:
        defense.reset()
    scoring = defense is not None and defense.scores_agents
    record = Episode()
    for r in range(rounds):
        played = play_round(economy, small, defense, compromised, r)
        latency = played.latency_ms
        escalated = False
        if scoring:
            signals = round_signals(r, played.step.output, economy.role, played.actions)
            record.scores.append(defense.score(signals))
            record.flagged.append(defense.flag(record.scores[-1]))
            if large is not None:
                escalated = defense.escalates(r, record.flagged[-1], played.step.confidence)
        if escalated:
            played = play_round(economy, large, defense, compromised, r, escalated=True)
            latency += played.latency_ms
        step = played.step
        record.offered += step.routed.tokens_in if step.routed else step.messages.n_tokens
        record.delivered += step.messages.n_tokens
        record.rejected += played.refused
        record.units.append(economy.action_unit())
        result = economy.step(played.actions, step.messages)
        record.actions.append(played.actions)
        record.completed.append(result.task_completed)
        record.escalated.append(escalated)
        record.latency_ms.append(latency)
        on_round(r, played.actions, result.task_completed)
    return record


def escalation_player(
    defense: Defense | None, attack: Attack | None, rng: np.random.Generator
) -> Player | None:
    """The large model's player under an escalation defense, else None."""
    if defense is None or defense.kind != "escalation":
        return None
    return Player(defense.large_policy(), attack, rng)


def play_twin(
    economy: Economy, policy: ForestPolicy, rounds: int, mitigation: Defense | None = None
) -> TwinRecord:
    """The clean episode, defended by ``mitigation`` if one is given."""
    none = np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng(0)  # no attack draws from it
    large = escalation_player(mitigation, None, rng)
    record = play_episode(economy, rounds, Player(policy, None, rng), large, mitigation, none)
    return TwinRecord(
        np.stack(record.actions),
        np.stack(record.completed),
        np.stack(record.units),
        np.array(record.escalated),
    )


def clean_signals(economy: Economy, policy: ForestPolicy, rounds: int) -> list[RoundSignals]:
    """What a detector sees in a clean episode: its fitting and calibration data."""
    signals = []
    for r in range(rounds):
        step = policy.act(economy)
        signals.append(round_signals(r, step.output, economy.role, step.actions))
        economy.step(step.actions, step.messages)
    return signals


def play_attacked(
    economy: Economy,
    policy: ForestPolicy,
    attack: Attack,
    defense: Defense | None,
    twin: TwinRecord,
    rng: np.random.Generator,
    fallback: tuple[Attack, np.random.Generator] | None = None,
) -> AttackRecord:
    """Play the attacked episode in lock-step with the twin's record. Under an escalation
    defense, ``fallback`` is the attack's second instance (and its random stream) that acts on
    the large model."""
    compromised = attack.threat.choose_agents(economy, rng)
    honest = np.ones(economy.n_agents, dtype=bool)
    honest[compromised] = False
    hops = economy.interaction_graph().hop_distance(compromised)
    large = None if fallback is None else escalation_player(defense, *fallback)
    success = []

    def judge(r: int, actions: np.ndarray, completed: np.ndarray) -> None:
        outcome = RoundOutcome(r, honest, economy.role, actions, twin.actions[r], completed,
                               twin.completed[r], twin.action_unit[r])  # fmt: skip
        success.append(attack.active(r) and attack.succeeded(outcome))

    record = play_episode(
        economy, twin.actions.shape[0], Player(policy, attack, rng), large, defense,
        compromised, judge,
    )  # fmt: skip
    scoring = bool(record.scores)
    return AttackRecord(
        actions=np.stack(record.actions),
        completed=np.stack(record.completed),
        scores=np.stack(record.scores) if scoring else None,
        flagged=np.stack(record.flagged) if scoring else None,
        rejected=record.rejected,
        escalated=np.array(record.escalated),
        success=np.array(success),
        latency_ms=np.array(record.latency_ms),
        tokens_offered=record.offered,
        tokens_delivered=record.delivered,
        compromised=compromised,
        hops=hops,
    )
