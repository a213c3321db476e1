"""The frozen-LM baseline shipped in checkpoints/pretrained: the forest's own weights only (its
language model is imported on the user's machine), safetensors, fitted on SmolLM2-135M."""

import json
import shutil

import pytest
from safetensors import safe_open
from smollm2 import REPO, needs_smollm2

from forest.checkpoints import load_policy
from forest.errors import InvalidInputError
from forest.pretrained.modeling import PretrainedForestConfig

SHIPPED = REPO / "checkpoints" / "pretrained"


def test_the_shipped_pretrained_forest_sits_on_smollm2_and_holds_no_lm_weights():
    config = PretrainedForestConfig.from_json_file(str(SHIPPED / "config.json"))
    lm_shape = (config.prompt_hidden_size, config.prompt_num_layers, config.prompt_vocab_size)
    assert lm_shape == (576, 10, 49152)  # the first 10 of SmolLM2's 30 layers
    assert config.max_agent_tokens == config.max_prompt_tokens == 128
    assert len(config.language_model_digest) == 16
    with safe_open(str(SHIPPED / "model.safetensors"), framework="pt") as weights:
        names = list(weights.keys())
    assert "prompt_proj.weight" in names
    assert not [n for n in names if n.startswith("language_model.")]
    assert sum(p.stat().st_size for p in SHIPPED.iterdir()) < 10_000_000
    assert not [p for p in SHIPPED.iterdir() if p.suffix in (".bin", ".pt", ".pkl", ".pth")]


def test_without_its_language_model_it_says_how_to_get_one(tmp_path):
    copy = shutil.copytree(SHIPPED, tmp_path / "pretrained")
    missing = tmp_path / "no-lm-here"
    (copy / "language_model.json").write_text(json.dumps({"path": str(missing)}))
    with pytest.raises(InvalidInputError, match="make pretrained"):
        load_policy(copy)


@needs_smollm2
def test_with_its_language_model_imported_the_shipped_forest_plays(monkeypatch):
    from forest.economy import make_economy

    monkeypatch.chdir(REPO)  # the recorded LM path is relative to the repo
    policy = load_policy(SHIPPED)
    assert policy.reads_text
    economy = make_economy("pricing", seed=0, n_agents=10)
    step = policy.act(economy)
    assert step.actions.shape == (10,)
