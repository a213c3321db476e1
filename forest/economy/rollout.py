"""Playing episodes of an economy under a policy, and averaging them over seeds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from forest.economy.base import Economy
from forest.economy.config import EconomyConfig
from forest.economy.messages import Messages
from forest.economy.registry import make_economy
from forest.validation import require_int


@dataclass(frozen=True)
class Decision:
    """A policy's round: actions, what it asks the channel to deliver, and what it offered.

    ``offered_tokens`` counts message tokens before any router pruned them, so that
    ``delivered / offered`` is the share a router kept.
    """

    actions: np.ndarray
    messages: Messages | None
    offered_tokens: int


Policy = Callable[[Economy], Decision]


@dataclass(frozen=True)
class Episode:
    """What one episode measured."""

    economy: str
    seed: int
    n_agents: int
    rounds: int
    task_completion: float  # mean over agents and rounds of the per-round task flags
    completion_per_round: tuple[float, ...]
    metrics: dict[str, float]
    offered_tokens: int  # message tokens the policy produced over the episode
    delivered_tokens: int  # message tokens the channel delivered


def expert_policy(messages: bool = True) -> Policy:
    """The economy's own expert; ``messages=False`` cuts the message channel."""

    def decide(economy: Economy) -> Decision:
        actions, outgoing = economy.expert()
        return Decision(actions, outgoing if messages else None, outgoing.n_tokens)

    return decide


def play(
    economy: Economy,
    policy: Policy,
    rounds: int,
    on_round: Callable[[], None] | None = None,
) -> Episode:
    """Run ``rounds`` rounds of ``policy`` in ``economy``."""
    require_int(rounds, "rounds", 1, 100_000)
    per_round = []
    offered = delivered = 0
    for _ in range(rounds):
        decision = policy(economy)
        offered += decision.offered_tokens
        delivered += 0 if decision.messages is None else decision.messages.n_tokens
        result = economy.step(decision.actions, decision.messages)
        per_round.append(float(result.task_completed.mean()))
        if on_round is not None:
            on_round()
    return Episode(
        economy=economy.name,
        seed=economy.seed,
        n_agents=economy.n_agents,
        rounds=rounds,
        task_completion=float(np.mean(per_round)),
        completion_per_round=tuple(per_round),
        metrics=economy.episode_metrics(),
        offered_tokens=offered,
        delivered_tokens=delivered,
    )


def evaluate(
    name: str,
    make_policy: Callable[[], Policy],
    seeds: int,
    rounds: int,
    n_agents: int | None = None,
    on_round: Callable[[], None] | None = None,
    config: EconomyConfig | None = None,
) -> list[Episode]:
    """One episode per seed ``0 .. seeds-1`` of economy ``name`` (with ``config``, default the
    economy's), a fresh policy for each."""
    require_int(seeds, "seeds", 1, 10_000)
    overrides = {} if n_agents is None else {"n_agents": n_agents}
    return [
        play(make_economy(name, seed, config, **overrides), make_policy(), rounds, on_round)
        for seed in range(seeds)
    ]


def evaluate_expert(
    name: str,
    seeds: int,
    rounds: int,
    n_agents: int | None = None,
    messages: bool = True,
    on_round: Callable[[], None] | None = None,
    config: EconomyConfig | None = None,
) -> list[Episode]:
    return evaluate(
        name, lambda: expert_policy(messages), seeds, rounds, n_agents, on_round, config
    )


def summarize(episodes: list[Episode]) -> dict[str, tuple[float, float]]:
    """Mean and standard deviation over episodes of task completion and every economy metric."""
    rows = [{"task_completion": e.task_completion, **e.metrics} for e in episodes]
    return {
        key: (float(np.mean([r[key] for r in rows])), float(np.std([r[key] for r in rows])))
        for key in rows[0]
    }
