"""The episode engine: one round function and one episode loop that every study plays through.

Suite cells, the collusion benchmark and the transfer study all play their rounds here. A round
is played by a ``Player``: a policy (the forest, or an economy's expert), the defense that guards
it and the attack that acts on it, in this order:

1. the attack's and the defense's interventions on the forest's inputs and latent
   (``Interventions``), and the policy decides;
2. the attack's ``actions`` hook (it may read its own agents' rows of the forest's output);
3. what is sent: the policy's messages, or what the market posts of the final actions
   (``Posting``, the collusion benchmark's quotes), then the attack's ``messages`` hook, then the
   defense's channel filter; the policy remembers its summaries and routes what got through.

Under an escalating defense a round may be played again by the larger model, which then decides
it, guarded by the defense's guard; the attack acts on that round through a second instance of
itself, against the larger model's latent. A cell's two episodes (the clean twin and the
attacked one) are in ``redteam.counterfactual``; the channel replays in ``redteam.replays``.
Observers see each round before and after the economy steps; they are how studies record what
they measure without a loop of their own.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
import torch

from attacks import Attack, AttackView
from defenses import Channel, Defense, RoundSignals, round_signals
from forest.economy import Economy, Messages, economy_class, make_economy
from forest.economy.base import RoundResult
from forest.encoding_cache import shared_cache
from forest.errors import InvalidInputError
from forest.interventions import Interventions
from forest.policy import Decision, ForestPolicy, PolicyStep
from redteam.replays import Replays, replay_round, unedited_delivery

# What a market posts of each agent's final action, replacing the policy's own messages.
Posting = Callable[[Economy, np.ndarray], Messages]


class Policy(Protocol):
    """What plays a round: ``ForestPolicy``, or ``forest.expert_policy.ExpertPolicy``."""

    memory: torch.Tensor | None

    def decide(self, economy: Economy, interventions: Interventions) -> Decision: ...

    def send(self, economy: Economy, decision: Decision, outgoing: Messages) -> PolicyStep: ...


def build_economy(name: str, config: dict, seed: int) -> Economy:
    cls = economy_class(name)
    return make_economy(name, seed, config=cls.config_class.from_dict(config))


def fresh_policy(policy: ForestPolicy, use_router: bool) -> ForestPolicy:
    """The same weights with no memory: one per episode. Every episode on the same model shares
    its encodings (an attacked episode reuses its twin's rows: ``forest.encoding_cache``)."""
    return ForestPolicy(
        policy.model,
        policy.tokenizer,
        policy.router if use_router else None,
        encodings=shared_cache(policy.model),
    )


@dataclass(frozen=True)
class Player:
    """Who plays a round: a policy, the attack instance acting on it (None: no attack) with its
    own random stream, and the defense guarding it (None: none)."""

    policy: Policy
    attack: Attack | None = None
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))
    defense: Defense | None = None


@dataclass(frozen=True)
class Played:
    step: PolicyStep
    actions: np.ndarray  # after the attack's action hook
    latency_ms: float  # the policy's own time: deciding, remembering and routing
    refused: int  # messages the defense's channel filter refused
    # What reached the router: the messages after the attack's edits and the defense's filter
    # (``step.messages`` is what the router kept of them).
    sent: Messages
    replays: Replays | None = None  # asked for by ``play_round(replay=True)`` under an attack
    # What would have been delivered next round had the attack not edited the messages (None:
    # it edited none): the next round's message replay restores it.
    unedited: Messages | None = None
    seconds: dict[str, float] = field(default_factory=dict)  # by component (``Clock``)


class Observer(Protocol):
    """Sees every round of an episode: before the economy steps, and its result after."""

    def before_step(self, round_: int, economy: Economy, played: Played) -> None: ...

    def after_step(
        self, round_: int, economy: Economy, played: Played, result: RoundResult
    ) -> None: ...


class Clock:
    """Wall time of a round by component, the cost figures: ``forest`` (deciding, remembering,
    routing), ``attack`` (every attack hook: the attacker's compute), ``defense`` (its hooks
    on the aggregation and the channel), ``replay`` (the channel replays: measurement, not a
    cost of deployment)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def timing(self, component: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            spent = time.perf_counter() - began
            self.seconds[component] = self.seconds.get(component, 0.0) + spent


def _defended(view: AttackView, defense: Defense | None) -> dict[str, Any]:
    """The defense's interventions on the forest this round."""
    if defense is None:
        return {}
    weights = defense.aggregation_weights(view.round, view.economy.n_agents)
    return {
        "aggregation_weights": None if weights is None else torch.from_numpy(
            weights.astype(np.float32)),
        "robust_aggregation": defense.robust_aggregation(),
    }  # fmt: skip


def _attacked(view: AttackView, attack: Attack | None, hidden: int) -> dict[str, Any]:
    """The attack's interventions on the forest's inputs and latent this round."""
    if attack is None:
        return {}
    return {
        "observations": attack.observations(view, view.economy.observe()),
        "message_text": attack.message_text(view) if view.policy.reads_text else None,
        "summary_delta": attack.summary_delta(view, hidden),
        "sybils": attack.sybils(view, hidden),
    }


def play_round(
    economy: Economy,
    player: Player,
    compromised: np.ndarray,
    round_: int,
    posting: Posting | None = None,
    replay: bool = False,
    clean_world: Economy | None = None,
) -> Played:
    """One round by ``player`` (the module docstring gives the order). With ``replay`` and an
    attack, the round is also decided with each of the attack's channels restored
    (``Replays``); ``clean_world`` is the economy had last round's messages gone unedited
    (None: the attack edited none)."""
    attack, policy, defense = player.attack, player.policy, player.defense
    shown = defense if attack is not None and attack.threat.adaptive else None
    view = AttackView(round_, economy, compromised, policy, player.rng, shown)
    model = getattr(policy, "model", None)
    hidden = 0 if model is None else model.config.hidden_size
    clock = Clock()
    with clock.timing("defense"):
        defended = _defended(view, defense)
    with clock.timing("attack"):
        attacked = _attacked(view, attack, hidden)
    interventions = Interventions(**attacked, **defended)
    with clock.timing("forest"):
        decision = policy.decide(economy, interventions)
    actions = decision.actions
    if attack is not None:
        with clock.timing("attack"):
            actions = attack.actions(replace(view, output=decision.output), actions)
    outgoing = decision.outgoing if posting is None else posting(economy, actions)
    edited = outgoing
    if attack is not None:
        with clock.timing("attack"):
            edited = attack.messages(view, outgoing)
    kept = edited
    if defense is not None:
        with clock.timing("defense"):
            channel = Channel(round_, economy.n_agents, outgoing, edited, compromised)
            kept = defense.filter_messages(channel)
    replays = unedited = None
    if replay and attack is not None:
        with clock.timing("replay"):
            replays = replay_round(economy, policy, interventions, compromised, clean_world)
            if edited is not outgoing:
                unedited = unedited_delivery(
                    policy, defense, economy, round_, outgoing, compromised
                )
    with clock.timing("forest"):
        step = policy.send(economy, decision, kept)
    latency = 1000 * clock.seconds["forest"]
    refused = len(edited) - len(kept)
    return Played(step, actions, latency, refused, kept, replays, unedited, clock.seconds)


@dataclass
class Episode:
    """Per-round records of one episode."""

    actions: list = field(default_factory=list)
    completed: list = field(default_factory=list)
    units: list = field(default_factory=list)
    scores: list = field(default_factory=list)
    flagged: list = field(default_factory=list)
    escalated: list = field(default_factory=list)
    latency_ms: list = field(default_factory=list)
    welfare: list = field(default_factory=list)  # the economy's welfare each round
    # Each round's actions with the attack's summaries, then its messages, restored (the
    # round's own actions where there was nothing to restore); empty without replays.
    replay_attention: list = field(default_factory=list)
    replay_messages: list = field(default_factory=list)
    replay_both: list = field(default_factory=list)
    # Wall time by component over the episode (``Clock``; detector scoring as "detector", the
    # escalation target's forest as "escalation")
    seconds: dict = field(default_factory=dict)
    offered: int = 0
    delivered: int = 0
    rejected: int = 0


def play_episode(
    economy: Economy,
    rounds: int,
    player: Player,
    compromised: np.ndarray,
    large: Player | None = None,
    observers: Sequence[Observer] = (),
    posting: Posting | None = None,
    replay: bool = False,
    schedule: np.ndarray | None = None,
) -> Episode:
    """Every round: ``player`` plays, its defense scores the round, an escalation may hand it to
    ``large``; each observer sees the round before and after the economy steps. ``replay``
    records the channel replays of every round (``play_round``). ``schedule`` (R,) bool forces
    which rounds escalate, whatever the defense's triggers say (a like-for-like twin)."""
    defense = player.defense
    if schedule is not None and large is None:
        raise InvalidInputError("schedule: forced escalations need an escalation target (large)")
    if replay and getattr(player.policy, "model", None) is None:
        # A policy without a forest (the expert) draws from the world's own random stream: a
        # replay would change the episode it replays.
        raise InvalidInputError("replay: channel replays need a forest policy")
    if defense is not None:
        defense.reset()
    scoring = defense is not None and defense.scores_agents
    record = Episode()
    clean_world = None
    for r in range(rounds):
        played = play_round(economy, player, compromised, r, posting, replay, clean_world)
        latency = played.latency_ms
        costs = [played.seconds]
        escalated = False
        if scoring:
            began = time.perf_counter()
            signals = round_signals(r, played.step.output, economy.role, played.actions)
            signals = _monitored(signals, player, economy, compromised)
            record.scores.append(defense.score(signals))
            record.flagged.append(defense.flag(record.scores[-1]))
            costs.append({"detector": time.perf_counter() - began})
            if large is not None:
                escalated = defense.escalates(r, record.flagged[-1], played.step.confidence)
        if schedule is not None:
            escalated = bool(schedule[r])
        if escalated:
            played = play_round(economy, large, compromised, r, posting, replay, clean_world)
            latency += played.latency_ms
            large_seconds = dict(played.seconds)
            large_seconds["escalation"] = large_seconds.pop("forest", 0.0)
            costs.append(large_seconds)
        if scoring:
            executed = defense.executed_actions(r, record.flagged[-1], played.actions)
            if executed is not played.actions:
                played = replace(played, actions=executed)
        for spent in costs:
            for component, seconds in spent.items():
                record.seconds[component] = record.seconds.get(component, 0.0) + seconds
        if played.replays is not None:
            own = played.actions
            replays = played.replays
            record.replay_attention.append(own if replays.attention is None else replays.attention)
            record.replay_messages.append(own if replays.messages is None else replays.messages)
            record.replay_both.append(own if replays.both is None else replays.both)
        step = played.step
        record.offered += step.routed.tokens_in if step.routed else step.messages.n_tokens
        record.delivered += step.messages.n_tokens
        record.rejected += played.refused
        record.units.append(economy.action_unit())
        for observer in observers:
            observer.before_step(r, economy, played)
        # The economy had the attack left its messages alone: the same round stepped with
        # the unedited delivery (the world draws the same), for the next round's replay.
        shadow = None
        if played.unedited is not None:
            shadow = copy.deepcopy(economy)
            shadow.step(played.actions, played.unedited)
        result = economy.step(played.actions, step.messages)
        record.actions.append(played.actions)
        record.completed.append(result.task_completed)
        record.escalated.append(escalated)
        record.latency_ms.append(latency)
        record.welfare.append(result.metrics["welfare"])
        clean_world = shadow
        for observer in observers:
            observer.after_step(r, economy, played, result)
    return record


def _monitored(signals: RoundSignals, player: Player, economy: Economy, compromised: np.ndarray
               ) -> RoundSignals:  # fmt: skip
    """The round as the monitor reads it: the attack's ``monitored``, if any."""
    if player.attack is None:
        return signals
    view = AttackView(signals.round, economy, compromised, player.policy, player.rng)
    shown = player.attack.monitored(view, signals.summaries, signals.attention_share)
    if shown is None:
        return signals
    return replace(signals, summaries=shown[0], attention_share=shown[1])


def escalation_player(
    defense: Defense | None, attack: Attack | None, rng: np.random.Generator
) -> Player | None:
    """The escalation target's player (its guard defends it), or None if nothing escalates."""
    target = None if defense is None else defense.escalation_target()
    if target is None:
        return None
    return Player(target.policy, attack, rng, target.guard)


NOBODY = np.zeros(0, dtype=np.int64)  # no compromised agent
