"""Playing episodes of an economy under its expert policy, and averaging them over seeds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from forest.economy.base import Economy
from forest.economy.registry import make_economy
from forest.validation import require_int


@dataclass(frozen=True)
class Episode:
    """What one expert episode measured."""

    economy: str
    seed: int
    n_agents: int
    rounds: int
    messages: bool
    task_completion: float  # mean over agents and rounds of the per-round task flags
    completion_per_round: tuple[float, ...]
    metrics: dict[str, float]
    message_tokens: int  # tokens sent over the whole episode


def play_expert(
    economy: Economy,
    rounds: int,
    messages: bool = True,
    on_round: Callable[[], None] | None = None,
) -> Episode:
    """Run ``rounds`` rounds of the expert; ``messages=False`` cuts the message channel."""
    require_int(rounds, "rounds", 1, 100_000)
    per_round = []
    tokens = 0
    for _ in range(rounds):
        actions, outgoing = economy.expert()
        sent = outgoing if messages else None
        tokens += outgoing.n_tokens if messages else 0
        result = economy.step(actions, sent)
        per_round.append(float(result.task_completed.mean()))
        if on_round is not None:
            on_round()
    return Episode(
        economy=economy.name,
        seed=economy.seed,
        n_agents=economy.n_agents,
        rounds=rounds,
        messages=messages,
        task_completion=float(np.mean(per_round)),
        completion_per_round=tuple(per_round),
        metrics=economy.episode_metrics(),
        message_tokens=tokens,
    )


def evaluate_expert(
    name: str,
    seeds: int,
    rounds: int,
    n_agents: int | None = None,
    messages: bool = True,
    on_round: Callable[[], None] | None = None,
) -> list[Episode]:
    """One expert episode per seed ``0 .. seeds-1`` of economy ``name``."""
    require_int(seeds, "seeds", 1, 10_000)
    overrides = {} if n_agents is None else {"n_agents": n_agents}
    return [
        play_expert(make_economy(name, seed, **overrides), rounds, messages, on_round)
        for seed in range(seeds)
    ]


def summarize(episodes: list[Episode]) -> dict[str, tuple[float, float]]:
    """Mean and standard deviation over episodes of task completion and every economy metric."""
    rows = [{"task_completion": e.task_completion, **e.metrics} for e in episodes]
    return {
        key: (float(np.mean([r[key] for r in rows])), float(np.std([r[key] for r in rows])))
        for key in rows[0]
    }
