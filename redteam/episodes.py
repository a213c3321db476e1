"""Playing the episodes of a cell: the clean twin, the attacked episode, clean calibration rounds.

The attacked episode and its twin share the seed, the model and the economy config, so they
are the same episode until the attack first acts; the twin's record is what every propagation
and success figure compares against, round by round. Records hold per-round, per-agent arrays.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from attacks import Attack, AttackView, RoundOutcome
from defenses import Channel, Defense, RoundSignals, round_signals
from forest.economy import Economy, Messages, economy_class, make_economy
from forest.policy import ForestPolicy


def build_economy(name: str, config: dict, seed: int) -> Economy:
    cls = economy_class(name)
    return make_economy(name, seed, config=cls.config_class.from_dict(config))


def fresh_policy(policy: ForestPolicy, use_router: bool) -> ForestPolicy:
    """The same weights with no memory: one per episode."""
    return ForestPolicy(policy.model, policy.tokenizer, policy.router if use_router else None)


@dataclass(frozen=True)
class TwinRecord:
    """The clean episode: (R, n) arrays."""

    actions: np.ndarray
    completed: np.ndarray
    action_unit: np.ndarray


@dataclass(frozen=True)
class AttackRecord:
    """The attacked episode: (R, n) arrays, per-round figures, and the compromised agents."""

    actions: np.ndarray
    completed: np.ndarray
    scores: np.ndarray | None  # detector scores, None without a detector
    flagged: np.ndarray | None
    rejected: int  # messages the defense's channel filter refused
    success: np.ndarray  # (R,) bool: the attack's objective reached (False before it starts)
    latency_ms: np.ndarray  # (R,) wall time of the policy's round (the forest and router)
    tokens_offered: int
    tokens_delivered: int
    compromised: np.ndarray  # sorted ids
    hops: np.ndarray  # (n,) hop distance from the nearest compromised agent (-1: unreachable)


def _weights(defense: Defense | None, round_: int, n: int) -> torch.Tensor | None:
    weights = None if defense is None else defense.aggregation_weights(round_, n)
    return None if weights is None else torch.from_numpy(weights.astype(np.float32))


def _defended(defense: Defense | None, round_: int, n: int) -> dict:
    """The policy's defense arguments this round."""
    return {
        "aggregation_weights": _weights(defense, round_, n),
        "robust_aggregation": None if defense is None else defense.robust_aggregation(),
    }


def play_twin(
    economy: Economy, policy: ForestPolicy, rounds: int, mitigation: Defense | None = None
) -> TwinRecord:
    """The clean episode; with a ``mitigation``, defended as the attacked episode will be (the
    counterfactual of an attack on a defended forest is the defended forest, unattacked)."""
    if mitigation is not None:
        mitigation.reset()
    none = np.zeros(0, dtype=np.int64)
    actions, completed, units = [], [], []
    for r in range(rounds):

        def channel(messages: Messages, r: int = r) -> Messages:
            return mitigation.filter_messages(
                Channel(r, economy.n_agents, messages, messages, none)
            )

        step = policy.act(
            economy,
            edit_messages=None if mitigation is None else channel,
            **_defended(mitigation, r, economy.n_agents),
        )
        if mitigation is not None and mitigation.scores_agents:
            mitigation.flag(
                mitigation.score(round_signals(r, step.output, economy.role, step.actions))
            )
        units.append(economy.action_unit())
        result = economy.step(step.actions, step.messages)
        actions.append(step.actions)
        completed.append(result.task_completed)
    return TwinRecord(np.stack(actions), np.stack(completed), np.stack(units))


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
) -> AttackRecord:
    """Play the attacked episode in lock-step with the twin's record."""
    rounds = twin.actions.shape[0]
    compromised = attack.threat.choose_agents(economy, rng)
    honest = np.ones(economy.n_agents, dtype=bool)
    honest[compromised] = False
    hops = economy.interaction_graph().hop_distance(compromised)
    hidden = policy.model.config.hidden_size
    if defense is not None:
        defense.reset()
    scoring = defense is not None and defense.scores_agents
    shown = defense if attack.threat.adaptive else None  # Tramer et al.: the attacker knows it
    actions, completed, scores, flagged, success, latency = [], [], [], [], [], []
    offered = delivered = rejected = 0
    for r in range(rounds):
        view = AttackView(r, economy, compromised, policy, rng, shown)
        observations = attack.observations(view, economy.observe())
        delta = attack.summary_delta(view, hidden)
        sybils = attack.sybils(view, hidden)
        hook_seconds = [0.0]
        refused = [0]

        def edit_messages(
            messages: Messages,
            v: AttackView = view,
            spent: list[float] = hook_seconds,
            refused: list[int] = refused,
        ) -> Messages:
            began = time.perf_counter()
            edited = attack.messages(v, messages)
            spent[0] += time.perf_counter() - began
            if defense is None:
                return edited
            kept = defense.filter_messages(
                Channel(v.round, economy.n_agents, messages, edited, compromised)
            )
            refused[0] = len(edited) - len(kept)
            return kept

        started = time.perf_counter()
        step = policy.act(
            economy,
            summary_delta=delta,
            edit_messages=edit_messages,
            observations=observations,
            sybils=sybils,
            **_defended(defense, r, economy.n_agents),
        )
        # The forest's own time: an attack's search inside the message hook is not the forest's.
        latency.append(1000 * (time.perf_counter() - started - hook_seconds[0]))
        offered += step.routed.tokens_in if step.routed is not None else step.messages.n_tokens
        delivered += step.messages.n_tokens
        rejected += refused[0]
        chosen = attack.actions(view, step.actions)
        if scoring:
            scores.append(defense.score(round_signals(r, step.output, economy.role, chosen)))
            flagged.append(defense.flag(scores[-1]))
        result = economy.step(chosen, step.messages)
        actions.append(chosen)
        completed.append(result.task_completed)
        outcome = RoundOutcome(
            r,
            honest,
            economy.role,
            chosen,
            twin.actions[r],
            result.task_completed,
            twin.completed[r],
            twin.action_unit[r],
        )
        success.append(attack.active(r) and attack.succeeded(outcome))
    return AttackRecord(
        actions=np.stack(actions),
        completed=np.stack(completed),
        scores=np.stack(scores) if scoring else None,
        flagged=np.stack(flagged) if scoring else None,
        rejected=rejected,
        success=np.array(success),
        latency_ms=np.array(latency),
        tokens_offered=offered,
        tokens_delivered=delivered,
        compromised=compromised,
        hops=hops,
    )
