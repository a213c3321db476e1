"""The trained forest shipped in checkpoints/small: loads safely, plays well, routes lean.

These are regression checks on the artifact itself, at a size CI affords; `forest eval
checkpoints/small` measures the same at full size (the README's table).
"""

from pathlib import Path

import numpy as np
import pytest

from forest.checkpoints import load_policy
from forest.economy.rollout import evaluate_expert, summarize
from forest.evaluation import evaluate_forest, kept_share

SHIPPED = Path(__file__).resolve().parents[2] / "checkpoints" / "small"
AGENTS, ROUNDS = 200, 25


@pytest.fixture(scope="module")
def policy():
    return load_policy(SHIPPED)


def test_the_shipped_checkpoint_is_small_and_holds_no_pickle():
    sizes = {p.name: p.stat().st_size for p in SHIPPED.iterdir()}
    assert sum(sizes.values()) <= 10 * 2**20
    assert not [name for name in sizes if name.endswith((".bin", ".pt", ".pkl", ".pth"))]


@pytest.mark.parametrize("name", ["supply_chain", "pricing", "exchange"])
def test_shipped_forest_completes_tasks_within_five_points_of_the_expert(policy, name):
    forest = summarize(evaluate_forest(policy, name, 1, ROUNDS, AGENTS))["task_completion"][0]
    expert = summarize(evaluate_expert(name, 1, ROUNDS, AGENTS))["task_completion"][0]
    assert forest >= expert - 0.05


def test_shipped_router_drops_at_least_40_percent_of_tokens_at_little_cost(policy):
    routed, full = [], []
    for name in ("supply_chain", "pricing", "exchange"):
        routed += evaluate_forest(policy, name, 1, ROUNDS, AGENTS, use_router=True)
        full += evaluate_forest(policy, name, 1, ROUNDS, AGENTS, use_router=False)
    assert kept_share(routed) <= 0.6
    loss = np.mean([e.task_completion for e in full]) - np.mean([e.task_completion for e in routed])
    assert loss <= 0.02
