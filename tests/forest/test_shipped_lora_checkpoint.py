"""The forests on SmolLM2 shipped in checkpoints/pretrained-lora (every economy) and
checkpoints/pretrained-lora-supply-chain (the supply chain alone): LoRA adapters and the forest's
own weights (no LM weight: SmolLM2 is imported on the user's machine), safetensors; with SmolLM2
imported (always in CI), each does its job on a small episode of the economies it was adapted
to, and the same forest untrained does not."""

import json
import os
from pathlib import Path

import pytest
from safetensors import safe_open
from smollm2 import REPO, SMOLLM2_DIR, needs_smollm2

from forest.checkpoints import load_policy
from forest.economy import economy_names
from forest.economy.rollout import Episode
from forest.evaluation import evaluate_forest
from forest.policy import ForestPolicy
from forest.pretrained.adaptation import AdaptConfig, adapted_forest
from forest.pretrained.modeling import PretrainedForestConfig

SHIPPED = REPO / "checkpoints" / "pretrained-lora"
SUPPLY_CHAIN = REPO / "checkpoints" / "pretrained-lora-supply-chain"
ADAPTED = {SHIPPED: tuple(economy_names()), SUPPLY_CHAIN: ("supply_chain",)}

# On seed 0, 40 agents, 10 rounds, with its calibrated router (`python
# experiments/pretrained_small_episode.py [--checkpoint C --economy supply_chain]` prints these
# and the untrained figures below): task completion less 0.05 (pretrained-lora: exchange 0.963,
# supply chain 0.827, pricing 1.000; pretrained-lora-supply-chain: 0.940), and welfare, the
# economy's own measure, less a margin of 10-30% (pretrained-lora: exchange 1.267, supply chain
# -22.7 = total cost per agent-round, pricing 0.676; pretrained-lora-supply-chain: -17.2; the
# expert: 1.291, -13.4, 0.680). In this 10-round episode the supply-chain forest costs 28% more
# than the expert; over 40 rounds at 260 agents, 2.5% more (README).
FLOOR = {
    (SHIPPED, "supply_chain"): (0.77, -30.0),
    (SHIPPED, "exchange"): (0.91, 1.14),
    (SHIPPED, "pricing"): (0.95, 0.646),
    (SUPPLY_CHAIN, "supply_chain"): (0.89, -21.0),
}
assert set(FLOOR) == {(path, name) for path, names in ADAPTED.items() for name in names}


@pytest.mark.parametrize("shipped", ADAPTED, ids=lambda path: path.name)
def test_the_shipped_lora_forest_holds_its_adapters_and_no_lm_weight(shipped):
    config = PretrainedForestConfig.from_json_file(str(shipped / "config.json"))
    assert (config.prompt_num_layers, config.lora_layers, config.lora_rank) == (4, 2, 8)
    with safe_open(str(shipped / "model.safetensors"), framework="pt") as weights:
        names = list(weights.keys())
    lm_names = [n for n in names if n.startswith("language_model.")]
    # Seven projections x two layers x (A, B).
    assert len(lm_names) == 28 and all(".lora_" in n for n in lm_names)
    assert {int(n.split(".layers.")[1].split(".")[0]) for n in lm_names} == {2, 3}
    assert sum(p.stat().st_size for p in shipped.iterdir()) < 10_000_000
    assert not [p for p in shipped.iterdir() if p.suffix in (".bin", ".pt", ".pkl", ".pth")]


@pytest.mark.parametrize("shipped", ADAPTED, ids=lambda path: path.name)
def test_the_shipped_router_keeps_the_threshold_its_calibration_chose(shipped):
    """router.json's threshold is the highest one tried under which the routed forest passed
    in every economy it was adapted to, as the training log recorded it (forest pretrained
    route)."""
    log = json.loads((shipped / "train_log.json").read_text())
    assert AdaptConfig(**log["train_config"]).economies == ADAPTED[shipped]
    threshold = json.loads((shipped / "router.json").read_text())["threshold"]
    assert threshold == log["router_threshold"]
    rows = log["router_calibration"]
    chosen = [row for row in rows if row["threshold"] == threshold]
    assert tuple(row["economy"] for row in chosen) == ADAPTED[shipped]
    assert all(row["passed"] for row in chosen)
    higher = {row["threshold"] for row in rows if row["threshold"] > threshold}
    for t in higher:
        assert not all(row["passed"] for row in rows if row["threshold"] == t)


def load_shipped(path: Path) -> ForestPolicy:
    previous = Path.cwd()
    os.chdir(REPO)  # the recorded LM path is relative to the repository
    try:
        return load_policy(path)
    finally:
        os.chdir(previous)


@pytest.fixture(scope="module")
def shipped_policies() -> dict[Path, ForestPolicy]:
    """Each checkpoint loaded on first use (each holds its own copy of SmolLM2's layers), and
    kept for the module's other tests."""

    class Loaded(dict):
        def __missing__(self, path: Path) -> ForestPolicy:
            self[path] = load_shipped(path)
            return self[path]

    return Loaded()


def small_episode(policy: ForestPolicy, name: str) -> Episode:
    return evaluate_forest(policy, name, seeds=1, rounds=10, n_agents=40)[0]


@needs_smollm2
@pytest.mark.parametrize(
    ("shipped", "name"), FLOOR, ids=[f"{path.name}@{name}" for path, name in FLOOR]
)
def test_the_shipped_lora_forest_does_its_job_on_a_small_episode(shipped_policies, shipped, name):
    episode = small_episode(shipped_policies[shipped], name)
    completion, welfare = FLOOR[shipped, name]
    assert episode.task_completion >= completion
    assert episode.metrics["welfare"] >= welfare


# The check can fail: untrained, the same forest falls below pretrained-lora's welfare floor in
# every economy (exchange 0.230, supply chain total cost 376.9, pricing 0.578; with the
# supply-chain forest's router, total cost 339.3, far below its floor too, not replayed here
# for CI's time). Completion alone could not tell them apart in a 10-round supply chain (0.747
# untrained) or in pricing (1.000 untrained).
@needs_smollm2
@pytest.mark.parametrize("name", economy_names())
def test_the_same_forest_untrained_falls_below_the_floor(shipped_policies, name):
    shipped = shipped_policies[SHIPPED]
    untrained = adapted_forest(AdaptConfig(), SMOLLM2_DIR)
    policy = ForestPolicy(untrained, shipped.tokenizer, shipped.router)
    assert small_episode(policy, name).metrics["welfare"] < FLOOR[SHIPPED, name][1]
