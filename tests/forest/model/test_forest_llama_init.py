"""from_llama: the encoder starts from a locally saved Llama's layers, copied one to one."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM, LlamaModel

from forest.errors import ConfigError, InvalidInputError
from forest.model import DenseForest, ForestConfig, ForestModel


def save_llama(directory: Path, causal_lm: bool = False, layers: int = 3) -> LlamaModel:
    torch.manual_seed(7)
    config = LlamaConfig(
        vocab_size=50,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
    )
    model = LlamaForCausalLM(config) if causal_lm else LlamaModel(config)
    base = model.model if causal_lm else model
    with torch.no_grad():
        base.norm.weight.uniform_(0.5, 1.5)  # so that copying the norm is observable
    model.save_pretrained(directory)
    return base


@pytest.mark.parametrize("causal_lm", [False, True])
def test_from_llama_copies_every_decoder_layer_and_the_final_norm(
    tmp_path: Path, causal_lm: bool
) -> None:
    llama = save_llama(tmp_path, causal_lm)
    forest = ForestModel.from_llama(tmp_path, n_actions=11)
    assert forest.config.num_hidden_layers == 3
    assert forest.config.n_actions == 11
    theirs = {f"layers.{k}": v for k, v in llama.layers.state_dict().items()}
    ours = forest.encoder.state_dict()
    for name, tensor in theirs.items():
        assert torch.equal(ours[name], tensor), name
    assert torch.equal(ours["norm.weight"], llama.norm.weight)


def test_from_llama_with_a_shallower_forest_uses_the_first_layers(tmp_path: Path) -> None:
    llama = save_llama(tmp_path)
    config = ForestConfig(
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
    )
    dense = DenseForest.from_llama(tmp_path, config)
    assert len(dense.encoder.layers) == 2
    assert torch.equal(
        dense.encoder.layers[1].mlp.down_proj.weight, llama.layers[1].mlp.down_proj.weight
    )


def test_from_llama_refuses_a_shape_mismatch_naming_the_field(tmp_path: Path) -> None:
    save_llama(tmp_path)
    with pytest.raises(ConfigError, match="intermediate_size"):
        ForestModel.from_llama(tmp_path, ForestConfig.preset("tiny"))
    deeper = ForestConfig(
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
    )
    with pytest.raises(ConfigError, match="num_hidden_layers"):
        ForestModel.from_llama(tmp_path, deeper)


def test_from_llama_refuses_pickles_and_non_llama_directories(tmp_path: Path) -> None:
    save_llama(tmp_path / "llama")
    (tmp_path / "llama" / "pytorch_model.bin").write_bytes(b"\x80\x04")
    with pytest.raises(InvalidInputError, match=r"pytorch_model\.bin"):
        ForestModel.from_llama(tmp_path / "llama")
    ForestConfig.preset("tiny").save_pretrained(tmp_path / "forest")
    with pytest.raises(InvalidInputError, match="model_type"):
        ForestModel.from_llama(tmp_path / "forest")
    with pytest.raises(InvalidInputError, match="does not exist"):
        ForestModel.from_llama(tmp_path / "missing")
