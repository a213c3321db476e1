"""Clean task completion of a trained forest, next to the expert, with and without its router."""

from __future__ import annotations

from collections.abc import Callable

from forest.economy import Economy
from forest.economy.rollout import Decision, Episode, Policy, evaluate
from forest.interventions import Interventions
from forest.model.robust_aggregation import RobustAggregation
from forest.policy import ForestPolicy


def forest_policy(
    policy: ForestPolicy, use_router: bool, robust: RobustAggregation | None = None
) -> Policy:
    """A fresh episode of ``policy`` (no memory yet), with its router or bypassing it, pooling
    its tree slots robustly if ``robust`` is given."""
    episode = ForestPolicy(policy.model, policy.tokenizer, policy.router if use_router else None)

    def decide(economy: Economy) -> Decision:
        step = episode.act(economy, Interventions(robust_aggregation=robust))
        offered = step.routed.tokens_in if step.routed is not None else step.messages.n_tokens
        return Decision(step.actions, step.messages, offered)

    return decide


def evaluate_forest(
    policy: ForestPolicy,
    name: str,
    seeds: int,
    rounds: int,
    n_agents: int | None = None,
    use_router: bool = True,
    on_round: Callable[[], None] | None = None,
    robust: RobustAggregation | None = None,
) -> list[Episode]:
    return evaluate(
        name, lambda: forest_policy(policy, use_router, robust), seeds, rounds, n_agents, on_round
    )


def kept_share(episodes: list[Episode]) -> float:
    offered = sum(e.offered_tokens for e in episodes)
    return sum(e.delivered_tokens for e in episodes) / offered if offered else 1.0
