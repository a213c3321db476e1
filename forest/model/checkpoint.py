"""Saving and loading forests: ``config.json`` + ``model.safetensors``, and nothing that unpickles.

``load_forest`` treats the directory as untrusted: it refuses pickle files, validates the config
and reads every safetensors header (names, shapes, file length) against the model the config
describes before transformers' ``from_pretrained`` touches the weights, so any malformed
checkpoint fails with one line that names the offending file.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from transformers.utils import logging as hf_logging

from forest.errors import ConfigError, InvalidInputError
from forest.model import safe_files
from forest.model.config import ForestConfig
from forest.model.dense import DenseForest
from forest.model.modeling_forest import ForestModel, ForestPreTrainedModel

ARCHITECTURES: dict[str, type[ForestPreTrainedModel]] = {
    "ForestModel": ForestModel,
    "DenseForest": DenseForest,
}


@contextmanager
def quiet_loading() -> Iterator[None]:
    """Without transformers' per-shard progress bars, which would clutter every CLI run."""
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def save_forest(model: ForestPreTrainedModel, directory: str | Path) -> Path:
    """Write ``model`` to ``directory`` (created if needed) as config.json + model.safetensors."""
    if not isinstance(model, ForestPreTrainedModel):
        raise InvalidInputError(
            f"model: expected a ForestModel or DenseForest, got {type(model).__name__}"
        )
    path = Path(directory)
    # One file, whatever the size: load_forest checks a single header.
    with quiet_loading():
        model.save_pretrained(path, max_shard_size="1000GB")
    return path


def _read_config(directory: Path) -> tuple[ForestConfig, type[ForestPreTrainedModel]]:
    path = directory / "config.json"
    data = safe_files.read_json(path)
    if data.get("model_type") != ForestConfig.model_type:
        raise InvalidInputError(
            f"{path}: expected model_type {ForestConfig.model_type!r}, "
            f"got {data.get('model_type')!r}"
        )
    architectures = data.get("architectures") or ["ForestModel"]
    name = architectures[0] if isinstance(architectures, list) and architectures else None
    if name not in ARCHITECTURES:
        raise InvalidInputError(
            f"{path}: unknown architecture {architectures!r}; "
            f"expected one of {sorted(ARCHITECTURES)}"
        )
    try:
        config = ForestConfig(**data)
    except (ConfigError, TypeError) as err:
        raise ConfigError(f"{path}: {err}") from err
    return config, ARCHITECTURES[name]


def _check_weights(directory: Path, config: ForestConfig, cls: type[ForestPreTrainedModel]) -> None:
    files = safe_files.weight_files(directory)
    found = safe_files.tensor_shapes(files)
    with torch.device("meta"):
        expected = {name: tuple(t.shape) for name, t in cls(config).state_dict().items()}
    where = files[0] if len(files) == 1 else directory
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    if missing or unexpected:
        raise InvalidInputError(
            f"{where}: tensors do not match the config: missing {missing[:3]}, "
            f"unexpected {unexpected[:3]}"
        )
    for name, shape in expected.items():
        if found[name] != shape:
            raise InvalidInputError(
                f"{where}: tensor {name!r} has shape {found[name]}, the config needs {shape}"
            )


def load_forest(directory: str | Path) -> ForestPreTrainedModel:
    """Load a forest written by ``save_forest``, in eval mode; refuses anything malformed."""
    path = safe_files.existing_dir(directory, "checkpoint")
    safe_files.refuse_pickles(path)
    config, cls = _read_config(path)
    _check_weights(path, config, cls)
    with quiet_loading():
        model = cls.from_pretrained(
            path, config=config, use_safetensors=True, local_files_only=True
        )
    # from_pretrained leaves tensors at arbitrary offsets of one loaded buffer, and CPU kernels
    # choose their vectorised paths by alignment, so outputs would differ from the saved
    # model's in the last bits. Fresh (64-byte aligned) copies make a reload bit-exact.
    with torch.no_grad():
        for tensor in itertools.chain(model.parameters(), model.buffers()):
            tensor.data = tensor.data.clone()
    return model.eval()
