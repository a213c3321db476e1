"""A trained forest on disk: model, tokenizer and router, plus the state that resumes training.

Everything is safetensors or JSON: nothing on this path unpickles, so a checkpoint from an
untrusted source can be inspected and loaded without running its code.

    DIR/config.json, DIR/model.safetensors   the forest (forest.model.checkpoint)
    DIR/tokenizer.json                       observation quantiles
    DIR/router.safetensors, DIR/router.json  the router and its threshold and budget
    DIR/training/                            optimizer, data and progress of an unfinished run
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from forest.errors import InvalidInputError
from forest.model.checkpoint import load_forest, save_forest
from forest.model.modeling_forest import ForestPreTrainedModel
from forest.policy import ForestPolicy
from forest.router import Router
from forest.tokenizer import AgentTokenizer
from forest.training.data import EpisodeRecord, RoundRecord

TOKENIZER = "tokenizer.json"
ROUTER_WEIGHTS, ROUTER_SETTINGS = "router.safetensors", "router.json"
TRAINING = "training"
TRAIN_LOG = "train_log.json"
RECORD_FIELDS = tuple(RoundRecord.__dataclass_fields__)


def _load_tensors(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise InvalidInputError(f"checkpoint: missing {path}")
    try:
        return load_file(path)
    except (SafetensorError, OSError, ValueError) as err:
        raise InvalidInputError(
            f"checkpoint: {path} is not a readable safetensors file ({err})"
        ) from None


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise InvalidInputError(f"checkpoint: missing {path}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise InvalidInputError(f"checkpoint: {path} is not valid JSON ({err})") from None


def save_policy(
    directory: Path, model: ForestPreTrainedModel, tokenizer: AgentTokenizer, router: Router | None
) -> None:
    directory = Path(directory)
    save_forest(model, directory)
    tokenizer.save(directory / TOKENIZER)
    if router is not None:
        save_router(directory, router)


def save_router(directory: Path, router: Router) -> None:
    save_file(router.state_dict(), Path(directory) / ROUTER_WEIGHTS)
    settings = {"threshold": router.threshold, "keep_budget": router.keep_budget}
    (Path(directory) / ROUTER_SETTINGS).write_text(json.dumps(settings))


def load_router(directory: Path) -> Router | None:
    directory = Path(directory)
    if not (directory / ROUTER_WEIGHTS).exists():
        return None
    settings = _read_json(directory / ROUTER_SETTINGS)
    router = Router(**settings)
    try:
        router.load_state_dict(_load_tensors(directory / ROUTER_WEIGHTS))
    except RuntimeError as err:
        raise InvalidInputError(
            f"checkpoint: {directory / ROUTER_WEIGHTS} does not fit ({err})"
        ) from None
    return router.eval()


def load_policy(directory: Path, with_router: bool = True) -> ForestPolicy:
    """The forest, tokenizer and (if present and wanted) router saved in ``directory``.

    A pretrained forest (a ``language_model.json`` beside its weights) loads with its LM.
    """
    directory = Path(directory)
    if (directory / "language_model.json").is_file():
        # Imported here: the pretrained package builds on this module.
        from forest.pretrained.checkpoint import load_pretrained_policy

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


def save_training_state(
    directory: Path,
    optimizer: torch.optim.Optimizer,
    episodes: list[EpisodeRecord],
    progress: dict[str, Any],
) -> None:
    """What ``train`` needs to go on after iteration ``progress['iterations_done']``."""
    state_dir = Path(directory) / TRAINING
    state_dir.mkdir(parents=True, exist_ok=True)
    opt = optimizer.state_dict()
    tensors = {
        f"{index}.{key}": value
        for index, slot in opt["state"].items()
        for key, value in slot.items()
    }
    save_file(tensors, state_dir / "optimizer.safetensors")
    data = {
        f"{i}.{field}": torch.stack([getattr(r, field) for r in episode.rounds])
        for i, episode in enumerate(episodes)
        for field in RECORD_FIELDS
    }
    save_file(data, state_dir / "data.safetensors")
    meta = {
        "param_groups": opt["param_groups"],
        "episodes": [[e.economy, e.seed] for e in episodes],
        **progress,
    }
    (state_dir / "progress.json").write_text(json.dumps(meta))


def load_training_state(
    directory: Path, optimizer: torch.optim.Optimizer
) -> tuple[list[EpisodeRecord], dict[str, Any]]:
    state_dir = Path(directory) / TRAINING
    meta = _read_json(state_dir / "progress.json")
    tensors = _load_tensors(state_dir / "optimizer.safetensors")
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta.pop("param_groups")})
    data = _load_tensors(state_dir / "data.safetensors")
    episodes = []
    for i, (economy, seed) in enumerate(meta.pop("episodes")):
        stacked = {field: data[f"{i}.{field}"] for field in RECORD_FIELDS}
        rounds = [
            RoundRecord(**{field: stacked[field][t] for field in RECORD_FIELDS})
            for t in range(stacked["input_ids"].shape[0])
        ]
        episodes.append(EpisodeRecord(economy, seed, rounds))
    return episodes, meta


def has_training_state(directory: Path) -> bool:
    return (Path(directory) / TRAINING / "progress.json").is_file()


def finish_training(directory: Path, summary: dict[str, Any]) -> None:
    """Keep the log of a finished run; drop the state that only a resume needed."""
    directory = Path(directory)
    (directory / TRAIN_LOG).write_text(json.dumps(summary))
    state_dir = directory / TRAINING
    for name in ("optimizer.safetensors", "data.safetensors", "progress.json"):
        (state_dir / name).unlink(missing_ok=True)
    if state_dir.is_dir():
        state_dir.rmdir()


def is_finished(directory: Path) -> bool:
    return (Path(directory) / TRAIN_LOG).is_file() and not has_training_state(directory)


def checkpoint_digest(directory: Path) -> str:
    """A content hash of the checkpoint, so that retrained weights never reuse old cells."""
    digest = hashlib.sha256()
    for path in sorted(directory.iterdir()):
        if path.suffix in (".json", ".safetensors") and path.name != "train_log.json":
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
