"""The forest on SmolLM2 shipped in checkpoints/pretrained-lora: LoRA adapters and the forest's
own weights (no LM weight: SmolLM2 is imported on the user's machine), safetensors; with SmolLM2
imported (always in CI), it does its job on a small episode of every economy, and the same
forest untrained does not."""

import os
from pathlib import Path

import pytest
from safetensors import safe_open
from smollm2 import REPO, SMOLLM2_DIR, needs_smollm2

from forest.checkpoints import load_policy
from forest.economy import economy_names
from forest.evaluation import evaluate_forest
from forest.policy import ForestPolicy
from forest.pretrained.adaptation import AdaptConfig, adapted_forest
from forest.pretrained.modeling import PretrainedForestConfig

SHIPPED = REPO / "checkpoints" / "pretrained-lora"

# Task completion with its router on seed 0, 40 agents, 10 rounds, measured at the checkpoint's
# commit (exchange 0.805, supply chain 0.795, pricing 1.000), less 0.05.
FLOOR = {"supply_chain": 0.74, "exchange": 0.75, "pricing": 0.95}


def test_the_shipped_lora_forest_holds_its_adapters_and_no_lm_weight():
    config = PretrainedForestConfig.from_json_file(str(SHIPPED / "config.json"))
    assert (config.prompt_num_layers, config.lora_layers, config.lora_rank) == (4, 2, 8)
    with safe_open(str(SHIPPED / "model.safetensors"), framework="pt") as weights:
        names = list(weights.keys())
    lm_names = [n for n in names if n.startswith("language_model.")]
    # Seven projections x two layers x (A, B).
    assert len(lm_names) == 28 and all(".lora_" in n for n in lm_names)
    assert {int(n.split(".layers.")[1].split(".")[0]) for n in lm_names} == {2, 3}
    assert sum(p.stat().st_size for p in SHIPPED.iterdir()) < 10_000_000
    assert not [p for p in SHIPPED.iterdir() if p.suffix in (".bin", ".pt", ".pkl", ".pth")]


@pytest.fixture(scope="module")
def shipped_policy() -> ForestPolicy:
    previous = Path.cwd()
    os.chdir(REPO)  # the recorded LM path is relative to the repository
    try:
        return load_policy(SHIPPED)
    finally:
        os.chdir(previous)


def small_episode_completion(policy: ForestPolicy, name: str) -> float:
    return evaluate_forest(policy, name, seeds=1, rounds=10, n_agents=40)[0].task_completion


@needs_smollm2
@pytest.mark.parametrize("name", economy_names())
def test_the_shipped_lora_forest_does_its_job_on_a_small_episode(shipped_policy, name):
    assert small_episode_completion(shipped_policy, name) >= FLOOR[name]


# The check can fail: untrained, the same forest trades in the exchange at 0.52. In a 10-round
# supply chain (0.76 untrained) and in pricing (1.000 untrained) the completion flag does not
# tell trained from untrained, the flag's known blindness to harm; experiments/
# pretrained_table.py measures their welfare.
@needs_smollm2
@pytest.mark.parametrize("name", ["exchange"])
def test_the_same_forest_untrained_falls_below_the_floor(shipped_policy, name):
    untrained = adapted_forest(AdaptConfig(), SMOLLM2_DIR)
    policy = ForestPolicy(untrained, shipped_policy.tokenizer, shipped_policy.router)
    assert small_episode_completion(policy, name) < FLOOR[name]
