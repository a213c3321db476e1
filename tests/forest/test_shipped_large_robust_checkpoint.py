"""The adversarially trained escalation target shipped in checkpoints/large-robust: the `large`
shape, safetensors only, made by the `large-robust` preset, and still a forest that does its job
under the trimmed mean it is escalated to (issue #23; docs/results.md)."""

import json
from pathlib import Path

from forest.checkpoints import load_policy
from forest.economy.rollout import summarize
from forest.evaluation import evaluate_forest
from forest.model.config import ForestConfig
from forest.model.robust_aggregation import RobustAggregation
from forest.training.config import TrainConfig

SHIPPED = Path(__file__).resolve().parents[2] / "checkpoints" / "large-robust"


def test_the_robust_checkpoint_is_a_large_forest_made_by_its_preset_with_no_pickle():
    config = load_policy(SHIPPED).model.config
    preset = ForestConfig.preset("large")
    assert (config.hidden_size, config.num_hidden_layers, config.tree_slots) == (
        preset.hidden_size, preset.num_hidden_layers, preset.tree_slots,
    )  # fmt: skip
    trained = json.loads((SHIPPED / "train_log.json").read_text())["train_config"]
    assert trained == TrainConfig.preset("large-robust").to_dict()
    assert trained["adversarial_share"] > 0
    names = [p.name for p in SHIPPED.iterdir()]
    assert not [n for n in names if n.endswith((".bin", ".pt", ".pkl", ".pth"))]


def test_the_robust_forest_completes_most_supply_chain_tasks_under_the_trimmed_mean():
    policy = load_policy(SHIPPED)
    episodes = evaluate_forest(
        policy,
        "supply_chain",
        seeds=1,
        rounds=16,
        n_agents=100,
        robust=RobustAggregation(method="trimmed-mean"),
    )
    assert summarize(episodes)["task_completion"][0] > 0.9
