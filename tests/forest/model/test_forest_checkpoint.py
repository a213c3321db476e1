"""Checkpoints: bit-exact round trips, and one clear line for every malformed directory."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from forest.errors import ConfigError, InvalidInputError
from forest.model import DenseForest, ForestConfig, ForestModel, load_forest, save_forest
from forest.model.modeling_forest import ForestPreTrainedModel

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
