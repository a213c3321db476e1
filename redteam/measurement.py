"""Measure episodes you played yourself, by the rules a suite's cells are measured by.

    import redteam

    m = redteam.measure(twins, attacks, compromised, start_round=4, graph=(src, dst))
    m.summary()          # harm, blast radius, R0... : mean and t interval over seeds
    m.differences["harm"].text()

A *trace* is one episode: ``actions`` (rounds, agents), the economy's ``welfare`` each round
(rounds,), higher is better, and optionally ``completed`` (rounds, agents) bool. Pass a
``redteam.EpisodeTrace``, a mapping with those keys, or any object with those attributes. The
twin is the same seed played without the attack; ``twin`` and ``attacked`` may be one trace
each or equal-length sequences, one pair per seed (the seed is the independent unit, so the
intervals are t intervals over seeds, ``redteam.intervals``).

The figures are those of ``redteam.metrics.cell_result``, which calls ``measure_pair`` below:
harm is the welfare lost against the twin per round from ``start_round``; an honest agent is
infected when its action departs from the twin's by more than ``infection_threshold`` action
units; the spread figures are ``redteam.propagation``'s. R0 and the hop figures need the
interaction graph (who directly affects whom); without one they are undefined (nan).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from forest.economy.base import InteractionGraph
from forest.errors import InvalidInputError
from redteam import propagation
from redteam.intervals import PairedDifference, t_interval

BLAST_RADIUS_ROUNDS = (5, 10, 20)


@dataclass(frozen=True)
class EpisodeTrace:
    """One played episode, as ``measure`` reads it."""

    actions: np.ndarray  # (rounds, agents) each agent's action each round
    welfare: np.ndarray  # (rounds,) the economy's welfare, higher is better
    completed: np.ndarray | None = None  # (rounds, agents) bool: the agent did its task

    def __post_init__(self) -> None:
        actions = np.asarray(self.actions, dtype=np.float64)
        welfare = np.asarray(self.welfare, dtype=np.float64)
        if actions.ndim != 2 or actions.shape[0] == 0 or actions.shape[1] == 0:
            raise InvalidInputError(
                f"actions: need a (rounds, agents) array, got shape {actions.shape}"
            )
        if welfare.shape != actions.shape[:1]:
            raise InvalidInputError(
                f"welfare: need one value a round, shape ({actions.shape[0]},), got {welfare.shape}"
            )
        if not (np.isfinite(actions).all() and np.isfinite(welfare).all()):
            raise InvalidInputError("actions, welfare: need finite numbers (found nan or inf)")
        object.__setattr__(self, "actions", actions)
        object.__setattr__(self, "welfare", welfare)
        if self.completed is not None:
            completed = np.asarray(self.completed)
            if completed.shape != actions.shape or completed.dtype != np.bool_:
                raise InvalidInputError(
                    f"completed: need a {actions.shape} bool array like actions, got "
                    f"{completed.dtype} {completed.shape}"
                )
            object.__setattr__(self, "completed", completed)


def as_trace(episode: Any) -> EpisodeTrace:
    """An ``EpisodeTrace`` from a trace, a mapping or an object with the same fields."""
    if isinstance(episode, EpisodeTrace):
        return episode
    if isinstance(episode, Mapping):
        missing = {"actions", "welfare"} - set(episode)
        if missing:
            raise InvalidInputError(f"episode: the mapping lacks {sorted(missing)}")
        return EpisodeTrace(episode["actions"], episode["welfare"], episode.get("completed"))
    if hasattr(episode, "actions") and hasattr(episode, "welfare"):
        return EpisodeTrace(episode.actions, episode.welfare, getattr(episode, "completed", None))
    raise InvalidInputError(
        f"episode: need an EpisodeTrace, a mapping or an object with actions and welfare, got "
        f"{type(episode).__name__}"
    )


@dataclass(frozen=True)
class PairFigures:
    """One seed's attacked episode against its twin."""

    infected: np.ndarray  # (R, n) bool: honest agent infected in the round
    spread: propagation.Propagation
    scalars: dict[str, float]


def measure_pair(
    twin: EpisodeTrace,
    attacked: EpisodeTrace,
    honest: np.ndarray,
    start_round: int,
    action_unit: np.ndarray | float,
    infection_threshold: float,
    blast_radius_rounds: tuple[int, ...],
    graph: InteractionGraph | None,
) -> PairFigures:
    """Harm and spread of one attacked episode against its twin (module docstring)."""
    infected = propagation.infection_matrix(
        attacked.actions, twin.actions, np.asarray(action_unit), honest, infection_threshold
    )
    compromised = np.flatnonzero(~honest)
    hops = (
        graph.hop_distance(compromised)
        if graph is not None
        else np.full(honest.size, -1, dtype=np.int64)
    )
    spread = propagation.measure(infected, start_round, honest, hops, blast_radius_rounds, graph)
    window = slice(start_round, None)
    scalars = {
        # Positive is worse: the welfare the attack cost, per round from its start.
        "harm": float((twin.welfare[window] - attacked.welfare[window]).mean()),
        "welfare_twin": float(twin.welfare[window].mean()),
        "welfare_under_attack": float(attacked.welfare[window].mean()),
        **spread.scalars(),
    }
    if twin.completed is not None and attacked.completed is not None:
        scalars["utility_drop"] = float(
            twin.completed[:, honest].mean(axis=1).mean()
            - attacked.completed[:, honest].mean(axis=1).mean()
        )
    return PairFigures(infected, spread, scalars)


@dataclass(frozen=True)
class Measurement:
    """Per-seed figures and, for each, the t interval over seeds."""

    seeds: pd.DataFrame  # one row per seed (pair), one column per figure
    differences: dict[str, PairedDifference]  # figure -> mean and interval over seeds
    infected: list[np.ndarray]  # per seed, (R, n) bool

    def summary(self) -> pd.DataFrame:
        """One row per figure: mean, low, high, n (seeds) and whether the interval excludes 0."""
        rows = [
            {"figure": name, "mean": d.mean, "low": d.low, "high": d.high, "n": d.n,
             "significant": d.significant}
            for name, d in self.differences.items()
        ]  # fmt: skip
        return pd.DataFrame(rows)


def _graph(graph: Any, n_agents: int) -> InteractionGraph | None:
    if graph is None or isinstance(graph, InteractionGraph):
        if graph is not None and graph.n_agents != n_agents:
            raise InvalidInputError(
                f"graph: built for {graph.n_agents} agents, the episodes have {n_agents}"
            )
        return graph
    try:
        src, dst = (np.asarray(e, dtype=np.int64) for e in graph)
    except (TypeError, ValueError):
        raise InvalidInputError(
            "graph: need an InteractionGraph or a (src, dst) pair of edge arrays"
        ) from None
    if src.shape != dst.shape or src.ndim != 1:
        raise InvalidInputError(f"graph: src and dst differ in shape, {src.shape} and {dst.shape}")
    if src.size and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= n_agents):
        raise InvalidInputError(f"graph: edges must join agents 0..{n_agents - 1}")
    return InteractionGraph(n_agents, src, dst)


def _seeds(value: Any, single: bool) -> list[Any]:
    return [value] if single else list(value)


def measure(
    twin: Any,
    attacked: Any,
    compromised: Sequence[int] | np.ndarray | Sequence[Sequence[int]],
    *,
    start_round: int = 0,
    action_unit: float | np.ndarray = 1.0,
    graph: InteractionGraph | tuple[Any, Any] | None = None,
    infection_threshold: float = 0.5,
    blast_radius_rounds: tuple[int, ...] = BLAST_RADIUS_ROUNDS,
    confidence: float = 0.95,
) -> Measurement:
    """Harm and spread of attacked episodes against their twins (module docstring).

    ``compromised``: the attackers' agent ids (one list for every seed, or a list per seed).
    ``action_unit``: what one action class is worth, a number or one per agent (n,).
    ``graph``: the interaction graph, an ``InteractionGraph`` or (src, dst) edge arrays.
    """
    single = not isinstance(twin, (list, tuple))
    twins = [as_trace(t) for t in _seeds(twin, single)]
    if single == isinstance(attacked, (list, tuple)):
        raise InvalidInputError("twin, attacked: pass one trace each, or a list of each")
    attacks = [as_trace(a) for a in _seeds(attacked, single)]
    if len(twins) != len(attacks) or not twins:
        raise InvalidInputError(
            f"twin, attacked: need one twin per attacked episode, got {len(twins)} and "
            f"{len(attacks)}"
        )
    first = next(iter(compromised), None)
    per_seed_ids = (
        [np.asarray(c, dtype=np.int64) for c in compromised]
        if not single and first is not None and np.ndim(first) == 1
        else [np.asarray(compromised, dtype=np.int64)] * len(twins)
    )
    if len(per_seed_ids) != len(twins):
        raise InvalidInputError(
            f"compromised: need one list for all seeds or one per seed ({len(twins)}), got "
            f"{len(per_seed_ids)}"
        )
    if not infection_threshold > 0:
        raise InvalidInputError(f"infection_threshold: need > 0, got {infection_threshold}")
    rows, infected = [], []
    for t, a, ids_seed in zip(twins, attacks, per_seed_ids, strict=True):
        if t.actions.shape != a.actions.shape:
            raise InvalidInputError(
                f"twin, attacked: need episodes of equal shape, got {t.actions.shape} and "
                f"{a.actions.shape}"
            )
        rounds, n = a.actions.shape
        if not 0 <= start_round < rounds:
            raise InvalidInputError(
                f"start_round: need 0 <= start_round < {rounds}, got {start_round}"
            )
        if ids_seed.ndim != 1 or (ids_seed.size and (ids_seed.min() < 0 or ids_seed.max() >= n)):
            raise InvalidInputError(f"compromised: need agent ids in 0..{n - 1}")
        unit = np.broadcast_to(np.asarray(action_unit, dtype=np.float64), (n,))
        if not (unit > 0).all():
            raise InvalidInputError("action_unit: need positive values")
        honest = np.ones(n, dtype=bool)
        honest[ids_seed] = False
        if not honest.any():
            raise InvalidInputError("compromised: every agent is compromised; nobody to infect")
        figures = measure_pair(
            t, a, honest, start_round, unit, infection_threshold, tuple(blast_radius_rounds),
            _graph(graph, n),
        )  # fmt: skip
        rows.append(figures.scalars)
        infected.append(figures.infected)
    seeds = pd.DataFrame(rows)
    # Every figure is already a departure from the twin (harm: welfare lost; spread: infection,
    # which the twin has none of), so its interval is the t interval of its per-seed values.
    differences = {
        name: t_interval(seeds[name].to_numpy(), confidence, method="t over seeds")
        for name in seeds.columns
        if name not in ("welfare_twin", "welfare_under_attack")
    }
    return Measurement(seeds, differences, infected)
