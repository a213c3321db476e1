"""A pretrained forest on disk: the forest's own weights, and where its language model lives.

    DIR/config.json             PretrainedForestConfig (with the LM's digest)
    DIR/model.safetensors       the forest's weights (a few MB; never the LM's 538 MB)
    DIR/language_model.json     {"path": ...}: the LM folder written by `forest pretrained import`
    DIR/router.*                the router, as for every forest

Loading reads the LM from that folder (or one given explicitly), and refuses it unless its
digest is the one the forest was fitted on.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from forest.errors import ConfigError, InvalidInputError
from forest.model import safe_files
from forest.policy import ForestPolicy
from forest.pretrained.language_model import language_model_digest, load_language_model
from forest.pretrained.modeling import PretrainedForest, PretrainedForestConfig
from forest.pretrained.prompts import PromptTokenizer
from forest.router import Router
from forest.training.checkpoints import load_router, save_router

WEIGHTS = "model.safetensors"
LANGUAGE_MODEL = "language_model.json"


def is_pretrained_checkpoint(directory: Path) -> bool:
    return (Path(directory) / LANGUAGE_MODEL).is_file()


def save_pretrained_policy(
    directory: Path, model: PretrainedForest, language_model_dir: Path, router: Router | None
) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model.config.save_pretrained(directory)
    weights = {name: t.contiguous() for name, t in model.forest_state_dict().items()}
    save_file(weights, directory / WEIGHTS)
    (directory / LANGUAGE_MODEL).write_text(json.dumps({"path": str(language_model_dir)}))
    if router is not None:
        save_router(directory, router)


def load_pretrained_policy(
    directory: Path, language_model_dir: Path | None = None, with_router: bool = True
) -> ForestPolicy:
    """The pretrained forest in ``directory`` over its language model, as a policy."""
    path = safe_files.existing_dir(directory, "checkpoint")
    safe_files.refuse_pickles(path)
    data = safe_files.read_json(path / "config.json")
    if data.get("model_type") != PretrainedForestConfig.model_type:
        raise InvalidInputError(
            f"{path / 'config.json'}: expected model_type "
            f"{PretrainedForestConfig.model_type!r}, got {data.get('model_type')!r}"
        )
    data.pop("architectures", None)
    data.pop("transformers_version", None)
    data.pop("dtype", None)
    try:
        config = PretrainedForestConfig(**data)
    except (ConfigError, TypeError) as err:
        raise ConfigError(f"{path / 'config.json'}: {err}") from err
    if language_model_dir is None:
        recorded = safe_files.read_json(path / LANGUAGE_MODEL)
        if not isinstance(recorded, dict) or not isinstance(recorded.get("path"), str):
            raise InvalidInputError(f'{path / LANGUAGE_MODEL}: expected {{"path": "..."}}')
        language_model_dir = Path(recorded["path"])
    if not Path(language_model_dir).is_dir():
        raise InvalidInputError(
            f"language model: no folder {language_model_dir}; make it with `make pretrained` "
            f"(or `forest pretrained import --out {language_model_dir}`)"
        )
    digest = language_model_digest(language_model_dir)
    if digest != config.language_model_digest:
        raise InvalidInputError(
            f"language model: {language_model_dir} has digest {digest}, the forest in {path} "
            f"was fitted on {config.language_model_digest}"
        )
    language_model = load_language_model(language_model_dir, layers=config.prompt_num_layers)
    model = PretrainedForest(config, language_model)
    expected = {name: tuple(t.shape) for name, t in model.forest_state_dict().items()}
    found = safe_files.tensor_shapes([path / WEIGHTS]) if (path / WEIGHTS).is_file() else {}
    if found != expected:
        missing = sorted(set(expected) - set(found))[:3]
        wrong = sorted(k for k in set(expected) & set(found) if expected[k] != found[k])[:3]
        raise InvalidInputError(
            f"{path / WEIGHTS}: tensors do not match the config "
            f"(missing {missing}, wrong shape {wrong})"
        )
    with torch.no_grad():
        model.load_state_dict(load_file(path / WEIGHTS), strict=False)
    tokenizer = PromptTokenizer.load(language_model_dir, config.max_prompt_tokens)
    router = load_router(path) if with_router else None
    return ForestPolicy(model.eval(), tokenizer, router)
