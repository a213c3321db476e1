"""The escalation target shipped in checkpoints/large: the `large` preset's shape, safetensors
only, and a forest that plays at least as well as `small` (issue #4; README: the large preset,
measured at 100-1,000 agents)."""

from pathlib import Path

from forest.checkpoints import load_policy
from forest.economy.rollout import summarize
from forest.evaluation import evaluate_forest
from forest.model.config import ForestConfig

SHIPPED = Path(__file__).resolve().parents[2] / "checkpoints" / "large"


def test_the_large_checkpoint_has_the_large_preset_shape_and_no_pickle():
    policy = load_policy(SHIPPED)
    preset = ForestConfig.preset("large")
    config = policy.model.config
    assert (config.hidden_size, config.num_hidden_layers, config.tree_slots) == (
        preset.hidden_size, preset.num_hidden_layers, preset.tree_slots,
    )  # fmt: skip
    small = load_policy(SHIPPED.parent / "small").model
    assert sum(p.numel() for p in policy.model.parameters()) > 1.5 * sum(
        p.numel() for p in small.parameters()
    )
    names = [p.name for p in SHIPPED.iterdir()]
    assert not [n for n in names if n.endswith((".bin", ".pt", ".pkl", ".pth"))]


def test_the_large_forest_completes_most_exchange_tasks():
    policy = load_policy(SHIPPED)
    episodes = evaluate_forest(policy, "exchange", seeds=1, rounds=20, n_agents=100)
    assert summarize(episodes)["task_completion"][0] > 0.85


def test_the_large_forest_completes_at_least_as_many_supply_chain_tasks_as_small():
    completion = {}
    for name in ("small", "large"):
        policy = load_policy(SHIPPED.parent / name)
        episodes = evaluate_forest(policy, "supply_chain", seeds=1, rounds=16, n_agents=300)
        completion[name] = summarize(episodes)["task_completion"][0]
    assert completion["large"] >= completion["small"]
