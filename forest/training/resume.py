"""Training's own state, kept beside the checkpoint it is writing so that a killed run resumes.

    DIR/training/optimizer.safetensors   the optimizer's tensors
    DIR/training/data.safetensors        the episodes gathered so far
    DIR/training/progress.json           iterations done, config, log, optimizer param groups
    DIR/train_log.json                   the log of a finished run (the state above is then gone)

Safetensors and JSON only, like the checkpoint itself (``forest.checkpoints``), whose readers
this module shares; the checkpoint module never reads this state.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from forest.checkpoints import load_json, load_tensors
from forest.training.data import EpisodeRecord, RoundRecord

TRAINING = "training"
TRAIN_LOG = "train_log.json"
SOURCE_DIGEST = "source_digest"  # of the checkpoint a fine-tune started from
RECORD_FIELDS = tuple(RoundRecord.__dataclass_fields__)


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
    meta = load_json(state_dir / "progress.json")
    tensors = load_tensors(state_dir / "optimizer.safetensors")
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta.pop("param_groups")})
    data = load_tensors(state_dir / "data.safetensors")
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


def save_finetune_state(
    directory: Path,
    optimizer: torch.optim.Optimizer,
    train_config: dict[str, Any],
    digest: str,
    log: list[dict],
) -> None:
    """A fine-tune's state after ``len(log)`` iterations (it keeps no episodes)."""
    progress = {"iterations_done": len(log), "train_config": train_config,
                SOURCE_DIGEST: digest, "log": log}  # fmt: skip
    save_training_state(directory, optimizer, [], progress)


def load_finetune_log(
    directory: Path, optimizer: torch.optim.Optimizer, train_config: dict[str, Any], digest: str
) -> list[dict] | None:
    """The log of the unfinished fine-tune in ``directory``, its optimizer restored; None when
    the folder holds a fine-tune of another source or config (the caller refuses it)."""
    _, progress = load_training_state(directory, optimizer)
    if progress["train_config"] != train_config or progress[SOURCE_DIGEST] != digest:
        return None
    return progress["log"]


def finish_finetune(
    directory: Path, train_config: dict[str, Any], digest: str, log: list[dict]
) -> None:
    finish_training(directory, {"train_config": train_config, SOURCE_DIGEST: digest, "log": log})
