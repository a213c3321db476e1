"""Checkpoints: bit-exact round trips, and one clear line for every malformed directory.

Token forests (model, tokenizer, router) and pretrained forests (their own weights, and the
language model they were fitted on), all through ``forest.checkpoints``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from tiny_language_model import save_tiny_language_model

from forest.checkpoints import (
    checkpoint_digest,
    load_forest,
    load_policy,
    load_router,
    load_token_policy,
    save_forest,
    save_policy,
    save_pretrained_policy,
    save_router,
)
from forest.economy import make_economy
from forest.errors import ConfigError, InvalidInputError
from forest.model import DenseForest, ForestConfig, ForestModel
from forest.model.modeling_forest import ForestPreTrainedModel
from forest.policy import ForestPolicy
from forest.pretrained.modeling import PretrainedForest
from forest.pretrained.prompts import PromptTokenizer
from forest.router import Router
from forest.tokenizer import AGENT_TOKENS, VOCAB_SIZE, AgentTokenizer
from forest.training.resume import finish_training

Round = dict[str, torch.Tensor]


@pytest.mark.parametrize("cls", [ForestModel, DenseForest])
def test_save_load_round_trip_is_bit_exact(
    tmp_path: Path, make_round: Callable[..., Round], cls: type[ForestPreTrainedModel]
) -> None:
    torch.manual_seed(3)
    model = cls(ForestConfig.preset("tiny", n_actions=9)).eval()
    save_forest(model, tmp_path / "ckpt")
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [
        "config.json",
        "model.safetensors",
    ]
    loaded = load_forest(tmp_path / "ckpt")
    assert type(loaded) is cls
    assert not loaded.training
    assert loaded.config.to_json_string() == model.config.to_json_string()
    original, again = model.state_dict(), loaded.state_dict()
    assert original.keys() == again.keys()
    assert all(torch.equal(original[k], again[k]) for k in original)
    batch = make_round(model.config, 33)
    with torch.no_grad():
        a, b = model(**batch), loaded(**batch)
    for name in ("summaries", "context", "action_logits", "message_logits", "value"):
        assert torch.equal(a[name], b[name]), name


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    directory = tmp_path / "forest"
    save_forest(ForestModel(ForestConfig.preset("tiny")), directory)
    return directory


def expect_one_line(error: type[Exception], file_name: str) -> pytest.RaisesExc:
    return pytest.raises(error, match=rf"^[^\n]*{re.escape(file_name)}[^\n]*$")


def test_missing_directory_is_refused(tmp_path: Path) -> None:
    with expect_one_line(InvalidInputError, "nowhere"):
        load_forest(tmp_path / "nowhere")


def test_missing_config_json_is_refused(saved: Path) -> None:
    (saved / "config.json").unlink()
    with expect_one_line(InvalidInputError, "config.json"):
        load_forest(saved)


def test_invalid_json_is_refused(saved: Path) -> None:
    (saved / "config.json").write_text("{not json", encoding="utf-8")
    with expect_one_line(InvalidInputError, "config.json"):
        load_forest(saved)


def test_config_of_another_model_type_is_refused(saved: Path) -> None:
    (saved / "config.json").write_text(json.dumps({"model_type": "llama"}), encoding="utf-8")
    with expect_one_line(InvalidInputError, "config.json"):
        load_forest(saved)


def test_config_with_an_impossible_field_is_a_config_error_naming_file_and_field(
    saved: Path,
) -> None:
    data = json.loads((saved / "config.json").read_text(encoding="utf-8"))
    data["tree_slots"] = -2
    (saved / "config.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"config\.json.*tree_slots"):
        load_forest(saved)


def test_unknown_architecture_is_refused(saved: Path) -> None:
    data = json.loads((saved / "config.json").read_text(encoding="utf-8"))
    data["architectures"] = ["LlamaForCausalLM"]
    (saved / "config.json").write_text(json.dumps(data), encoding="utf-8")
    with expect_one_line(InvalidInputError, "config.json"):
        load_forest(saved)


def test_missing_safetensors_is_refused(saved: Path) -> None:
    (saved / "model.safetensors").unlink()
    with expect_one_line(InvalidInputError, "model.safetensors"):
        load_forest(saved)


@pytest.mark.parametrize("keep", [0, 7, 100, -64])
def test_truncated_safetensors_is_refused(saved: Path, keep: int) -> None:
    weights = saved / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[:keep])
    with expect_one_line(InvalidInputError, "model.safetensors"):
        load_forest(saved)


def test_wrong_tensor_shapes_are_refused(saved: Path) -> None:
    data = json.loads((saved / "config.json").read_text(encoding="utf-8"))
    data["n_actions"] = 7
    (saved / "config.json").write_text(json.dumps(data), encoding="utf-8")
    with expect_one_line(InvalidInputError, "action_head"):
        load_forest(saved)


def test_missing_and_extra_tensors_are_refused(saved: Path) -> None:
    save_file({"surprise": torch.zeros(2)}, str(saved / "model.safetensors"))
    with expect_one_line(InvalidInputError, "model.safetensors"):
        load_forest(saved)


@pytest.mark.parametrize("name", ["pytorch_model.bin", "weights.pt", "state.pkl"])
def test_pickle_files_are_refused_without_being_opened(saved: Path, name: str) -> None:
    (saved / name).write_bytes(b"\x80\x04 this would run code if unpickled")
    with expect_one_line(InvalidInputError, name):
        load_forest(saved)


def test_a_directory_with_only_pytorch_model_bin_is_refused(tmp_path: Path) -> None:
    torch.manual_seed(0)
    ForestConfig.preset("tiny").save_pretrained(tmp_path)
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x04")
    with expect_one_line(InvalidInputError, "pytorch_model.bin"):
        load_forest(tmp_path)


def test_saving_something_that_is_not_a_forest_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="model"):
        save_forest(torch.nn.Linear(2, 2), tmp_path)  # type: ignore[arg-type]


# A token forest as a policy: forest, tokenizer and router.


@pytest.fixture
def saved_policy(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    config = ForestConfig.preset("tiny", vocab_size=VOCAB_SIZE, max_agent_tokens=AGENT_TOKENS)
    router = Router(threshold=0.25, keep_budget=0.5)
    save_policy(tmp_path / "policy", ForestModel(config), AgentTokenizer.fit_on_experts(), router)
    return tmp_path / "policy"


def test_a_saved_policy_reloads_to_identical_play(saved_policy: Path) -> None:
    first, again = load_policy(saved_policy), load_policy(saved_policy)
    assert first.router is not None and first.router.threshold == 0.25
    assert first.router.keep_budget == 0.5
    assert torch.equal(play(first), play(again))
    assert load_policy(saved_policy, with_router=False).router is None


def test_a_policy_without_its_tokenizer_is_refused(saved_policy: Path) -> None:
    (saved_policy / "tokenizer.json").unlink()
    with expect_one_line(InvalidInputError, "tokenizer.json"):
        load_policy(saved_policy)


def test_router_weights_that_do_not_fit_are_refused(saved_policy: Path) -> None:
    save_file({"surprise": torch.zeros(2)}, str(saved_policy / "router.safetensors"))
    with pytest.raises(InvalidInputError, match=r"router\.safetensors does not fit"):
        load_router(saved_policy)


def test_router_settings_that_are_not_json_are_refused(saved_policy: Path) -> None:
    (saved_policy / "router.json").write_text("{not json")
    with expect_one_line(InvalidInputError, "router.json"):
        load_router(saved_policy)


def test_a_folder_without_a_router_loads_none(tmp_path: Path) -> None:
    assert load_router(tmp_path) is None
    save_router(tmp_path, Router())
    assert isinstance(load_router(tmp_path), Router)


def test_the_digest_follows_the_weights_and_not_the_training_log(saved_policy: Path) -> None:
    digest = checkpoint_digest(saved_policy)
    finish_training(saved_policy, {"log": []})  # training's log beside the weights
    assert checkpoint_digest(saved_policy) == digest
    save_router(saved_policy, Router(threshold=0.75))
    assert checkpoint_digest(saved_policy) != digest


# A pretrained forest: its own weights, and the language model it was fitted on.


def play(policy: ForestPolicy) -> torch.Tensor:
    economy = make_economy("exchange", seed=2, n_agents=20)
    logits = []
    for _ in range(2):
        step = policy.act(economy)
        logits.append(step.output.action_logits)
        economy.step(step.actions, step.messages)
    return torch.stack(logits)


@pytest.fixture
def saved_pretrained(
    tmp_path: Path, pretrained_forest: PretrainedForest, tiny_lm_dir: Path
) -> Path:
    save_pretrained_policy(tmp_path / "forest", pretrained_forest, tiny_lm_dir, router=None)
    return tmp_path / "forest"


def test_a_saved_pretrained_forest_reloads_to_identical_play(
    saved_pretrained: Path, pretrained_forest: PretrainedForest, prompt_tokenizer: PromptTokenizer
) -> None:
    assert not (saved_pretrained / "model.safetensors").stat().st_size > 5_000_000
    again = load_policy(saved_pretrained)
    assert type(again.model) is type(pretrained_forest)
    assert torch.equal(play(again), play(ForestPolicy(pretrained_forest, prompt_tokenizer)))


def test_work_for_token_forests_refuses_a_pretrained_one(saved_pretrained: Path) -> None:
    with pytest.raises(InvalidInputError, match="fine-tuning takes a token forest"):
        load_token_policy(saved_pretrained, "fine-tuning")


def test_a_forest_refuses_a_language_model_it_was_not_fitted_on(
    saved_pretrained: Path, tmp_path: Path
) -> None:
    other = save_tiny_language_model(tmp_path / "other_lm", seed=1)
    (saved_pretrained / "language_model.json").write_text(json.dumps({"path": str(other)}))
    with pytest.raises(InvalidInputError, match="was fitted on"):
        load_policy(saved_pretrained)


def test_a_missing_language_model_folder_says_how_to_make_one(
    saved_pretrained: Path, tmp_path: Path
) -> None:
    (saved_pretrained / "language_model.json").write_text(
        json.dumps({"path": str(tmp_path / "gone")})
    )
    with pytest.raises(InvalidInputError, match="gone"):
        load_policy(saved_pretrained)


def test_truncated_pretrained_forest_weights_name_the_file(saved_pretrained: Path) -> None:
    weights = saved_pretrained / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(InvalidInputError, match=r"model\.safetensors"):
        load_policy(saved_pretrained)
