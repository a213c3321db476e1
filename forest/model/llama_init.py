"""Starting the agent encoder from a pretrained Llama: same layers, same names, same shapes.

The encoder's decoder layers and final norm are named exactly as in ``LlamaModel``, so a local
checkpoint's ``layers.{i}.*`` and ``norm.weight`` (with a ``model.`` prefix when it was saved as
``LlamaForCausalLM``) copy over one to one. Only those tensors are read, from safetensors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from torch import nn

from forest.errors import ConfigError, InvalidInputError
from forest.model import safe_files
from forest.model.config import ForestConfig


def llama_config(llama_dir: str | Path) -> dict[str, Any]:
    directory = safe_files.existing_dir(llama_dir, "Llama checkpoint")
    safe_files.refuse_pickles(directory)
    cfg = safe_files.read_json(directory / "config.json")
    if cfg.get("model_type") != "llama":
        got = cfg.get("model_type")
        raise InvalidInputError(
            f"{directory / 'config.json'}: expected model_type 'llama', got {got!r}"
        )
    unsupported = {
        "hidden_act": ("silu", cfg.get("hidden_act", "silu")),
        "attention_bias": (False, cfg.get("attention_bias", False)),
        "mlp_bias": (False, cfg.get("mlp_bias", False)),
    }
    for name, (wanted, got) in unsupported.items():
        if got != wanted:
            raise ConfigError(f"{name}: the forest needs {wanted!r}, the Llama has {got!r}")
    return cfg


def forest_config_from_llama(llama_dir: str | Path, **overrides: Any) -> ForestConfig:
    """A ForestConfig with the Llama's encoder shape; ``overrides`` set the forest's own fields."""
    cfg = llama_config(llama_dir)
    shape = {
        key: cfg.get(key)
        for key in (
            "hidden_size",
            "intermediate_size",
            "num_hidden_layers",
            "num_attention_heads",
            "rms_norm_eps",
        )
    }
    shape["num_key_value_heads"] = cfg.get("num_key_value_heads") or cfg.get("num_attention_heads")
    if isinstance(cfg.get("rope_parameters"), dict):
        shape["rope_parameters"] = cfg["rope_parameters"]
    return ForestConfig(**{**shape, **overrides})


def _check_shape(cfg: dict[str, Any], config: ForestConfig) -> None:
    heads = cfg.get("num_attention_heads")
    expected = {
        "hidden_size": config.hidden_size,
        "intermediate_size": config.intermediate_size,
        "num_attention_heads": config.num_attention_heads,
        "num_key_value_heads": config.num_key_value_heads,
    }
    got = {key: cfg.get(key) for key in expected}
    got["num_key_value_heads"] = got["num_key_value_heads"] or heads
    for key, want in expected.items():
        if got[key] != want:
            raise ConfigError(f"{key}: the forest has {want}, the Llama checkpoint has {got[key]}")
    head_dim = cfg.get("head_dim") or (config.hidden_size // config.num_attention_heads)
    if head_dim != config.head_dim:
        raise ConfigError(f"head_dim: the forest has {config.head_dim}, the Llama has {head_dim}")
    layers = cfg.get("num_hidden_layers")
    if not isinstance(layers, int) or layers < config.num_hidden_layers:
        raise ConfigError(
            f"num_hidden_layers: the forest needs {config.num_hidden_layers}, "
            f"the Llama has {layers}"
        )


def load_llama_layers(encoder: nn.Module, llama_dir: str | Path, config: ForestConfig) -> None:
    """Copy the Llama's first ``config.num_hidden_layers`` layers and its final norm."""
    directory = Path(llama_dir)
    _check_shape(llama_config(directory), config)
    files = safe_files.weight_files(directory)
    shapes = safe_files.tensor_shapes(files)
    prefix = "model." if any(key.startswith("model.layers.") for key in shapes) else ""
    own = encoder.state_dict()
    wanted = {
        name: tensor
        for name, tensor in own.items()
        if name == "norm.weight" or name.split(".")[0] == "layers"
    }
    for name, tensor in wanted.items():
        source = prefix + name
        if source not in shapes:
            raise InvalidInputError(f"{directory}: the Llama checkpoint has no tensor {source!r}")
        if shapes[source] != tuple(tensor.shape):
            raise InvalidInputError(
                f"{directory}: tensor {source!r} has shape {shapes[source]}, "
                f"the forest expects {tuple(tensor.shape)}"
            )
    loaded: dict[str, torch.Tensor] = {}
    for path in files:
        with safe_open(str(path), framework="pt") as f:
            for key in f.keys():  # noqa: SIM118 (safe_open handles are not mappings)
                name = key[len(prefix) :]
                if key.startswith(prefix) and name in wanted:
                    loaded[name] = f.get_tensor(key)
    with torch.no_grad():
        for name, tensor in loaded.items():
            own[name].copy_(tensor.to(own[name].dtype))
