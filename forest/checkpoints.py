"""What a forest is on disk: saving and loading every checkpoint, and nothing that unpickles.

    DIR/config.json, DIR/model.safetensors   the forest (a pretrained forest's own weights only:
                                             a few MB, never its LM's 538 MB)
    DIR/tokenizer.json                       observation quantiles (a token forest)
    DIR/language_model.json                  {"path": ...}: the LM folder written by
                                             `forest pretrained import` (a pretrained forest)
    DIR/router.safetensors, DIR/router.json  the router and its threshold and budget

Everything is safetensors or JSON, and every load treats the directory as untrusted: it refuses
pickle files, validates the config and reads every safetensors header (names, shapes, file
length) against the model the config describes before any weights are touched, so a malformed
checkpoint fails with one line that names the offending file. A pretrained forest's LM is refused
unless its digest is the one the forest was fitted on.

Training keeps its resume state in the same folder (``forest.training.resume``) and builds on
this module; nothing here imports training, so inference loads a forest without it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from forest.errors import ConfigError, InvalidInputError
from forest.model import safe_files
from forest.model.config import ForestConfig
from forest.model.dense import DenseForest
from forest.model.modeling_forest import ForestModel, ForestPreTrainedModel
from forest.policy import ForestPolicy
from forest.pretrained.language_model import language_model_digest, load_language_model
from forest.pretrained.modeling import PretrainedForest, PretrainedForestConfig
from forest.pretrained.prompts import PromptTokenizer
from forest.router import Router
from forest.tokenizer import AgentTokenizer

WEIGHTS = safe_files.WEIGHTS_NAME
TOKENIZER = "tokenizer.json"
LANGUAGE_MODEL = "language_model.json"
ROUTER_WEIGHTS, ROUTER_SETTINGS = "router.safetensors", "router.json"
# Written beside the weights by training (forest.training.resume.TRAIN_LOG), but not part of them.
NOT_HASHED = ("train_log.json",)

ARCHITECTURES: dict[str, type[ForestPreTrainedModel]] = {
    "ForestModel": ForestModel,
    "DenseForest": DenseForest,
}


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    """A safetensors file of a checkpoint; missing or unreadable raises naming it."""
    if not path.is_file():
        raise InvalidInputError(f"checkpoint: missing {path}")
    try:
        return load_file(path)
    except (SafetensorError, OSError, ValueError) as err:
        raise InvalidInputError(
            f"checkpoint: {path} is not a readable safetensors file ({err})"
        ) from None


def load_json(path: Path) -> Any:
    """A JSON file of a checkpoint; missing or invalid raises naming it."""
    if not path.is_file():
        raise InvalidInputError(f"checkpoint: missing {path}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise InvalidInputError(f"checkpoint: {path} is not valid JSON ({err})") from None


# The forest model: config.json + model.safetensors.


def save_forest(model: ForestPreTrainedModel, directory: str | Path) -> Path:
    """Write ``model`` to ``directory`` (created if needed) as config.json + model.safetensors."""
    if not isinstance(model, ForestPreTrainedModel):
        raise InvalidInputError(
            f"model: expected a ForestModel or DenseForest, got {type(model).__name__}"
        )
    path = Path(directory)
    # One file, whatever the size: load_forest checks a single header.
    with safe_files.quiet_loading():
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
    with safe_files.quiet_loading():
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


# The router: router.safetensors + router.json.


def save_router(directory: Path, router: Router) -> None:
    save_file(router.state_dict(), Path(directory) / ROUTER_WEIGHTS)
    settings = {"threshold": router.threshold, "keep_budget": router.keep_budget}
    (Path(directory) / ROUTER_SETTINGS).write_text(json.dumps(settings))


def load_router(directory: Path) -> Router | None:
    directory = Path(directory)
    if not (directory / ROUTER_WEIGHTS).exists():
        return None
    settings = load_json(directory / ROUTER_SETTINGS)
    router = Router(**settings)
    try:
        router.load_state_dict(load_tensors(directory / ROUTER_WEIGHTS))
    except RuntimeError as err:
        raise InvalidInputError(
            f"checkpoint: {directory / ROUTER_WEIGHTS} does not fit ({err})"
        ) from None
    return router.eval()


# A pretrained forest: its own weights, and where its language model lives.


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


# A policy: the forest with its tokenizer (or language model) and router.


def save_policy(
    directory: Path, model: ForestPreTrainedModel, tokenizer: AgentTokenizer, router: Router | None
) -> None:
    directory = Path(directory)
    save_forest(model, directory)
    tokenizer.save(directory / TOKENIZER)
    if router is not None:
        save_router(directory, router)


def load_policy(directory: Path, with_router: bool = True) -> ForestPolicy:
    """The forest, tokenizer and (if present and wanted) router saved in ``directory``.

    A pretrained forest (a ``language_model.json`` beside its weights) loads with its LM.
    """
    directory = Path(directory)
    if is_pretrained_checkpoint(directory):
        return load_pretrained_policy(directory, with_router=with_router)
    model = load_forest(directory)
    tokenizer_path = directory / TOKENIZER
    if not tokenizer_path.is_file():
        raise InvalidInputError(f"checkpoint: missing {tokenizer_path}")
    tokenizer = AgentTokenizer.load(tokenizer_path)
    router = load_router(directory) if with_router else None
    return ForestPolicy(model, tokenizer, router)


def load_token_policy(directory: Path, purpose: str, with_router: bool = True) -> ForestPolicy:
    """``load_policy`` for work that only a token forest can do; a pretrained one is refused."""
    policy = load_policy(directory, with_router=with_router)
    if policy.reads_text:
        raise InvalidInputError(
            f"{directory} is a pretrained forest; {purpose} takes a token forest"
        )
    return policy


def checkpoint_digest(directory: Path) -> str:
    """A content hash of the checkpoint, so that retrained weights never reuse old cells."""
    digest = hashlib.sha256()
    for path in sorted(directory.iterdir()):
        if path.suffix in (".json", ".safetensors") and path.name not in NOT_HASHED:
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
