"""Reading weight directories without ever unpickling: safetensors only, checked up front.

A checkpoint is attacker-controlled input like any other; ``torch.load`` on a pickle runs code.
These helpers find a directory's safetensors files, refuse pickle formats outright, and read
every header (names, shapes, and that the file really holds the bytes it promises) before any
weights are loaded, so that each malformed file fails with one line naming it.
``quiet_loading`` keeps transformers' progress bars out of every save and load of such a folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from safetensors import SafetensorError, safe_open
from transformers.utils import logging as hf_logging

from forest.errors import InvalidInputError

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
WEIGHTS_NAME = "model.safetensors"
INDEX_NAME = "model.safetensors.index.json"


def existing_dir(path: str | Path, what: str) -> Path:
    directory = Path(path)
    if not directory.is_dir():
        raise InvalidInputError(f"{directory}: {what} directory does not exist")
    return directory


def refuse_pickles(directory: Path) -> None:
    """Refuse a directory holding any pickle-format weights, even next to safetensors."""
    pickles = sorted(p.name for p in directory.iterdir() if p.suffix in PICKLE_SUFFIXES)
    if pickles:
        raise InvalidInputError(
            f"{directory / pickles[0]}: pickle-format weights are refused (they can run code "
            "when loaded); convert the checkpoint to safetensors"
        )


def read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InvalidInputError(f"{path}: missing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InvalidInputError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(data, dict):
        raise InvalidInputError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def weight_files(directory: Path) -> list[Path]:
    """The safetensors files of a directory: ``model.safetensors`` or the shards of its index."""
    single = directory / WEIGHTS_NAME
    if single.is_file():
        return [single]
    index = directory / INDEX_NAME
    if index.is_file():
        weight_map = read_json(index).get("weight_map")
        if not isinstance(weight_map, dict) or not weight_map:
            raise InvalidInputError(f"{index}: expected a non-empty 'weight_map' object")
        shards = sorted({directory / str(name) for name in weight_map.values()})
        for shard in shards:
            if shard.parent != directory or not shard.is_file():
                raise InvalidInputError(f"{shard}: shard named in {index.name} is missing")
        return shards
    raise InvalidInputError(f"{single}: missing (no safetensors weights in {directory})")


def tensor_shapes(files: list[Path]) -> dict[str, tuple[int, ...]]:
    """Every tensor's shape across ``files``; a truncated or corrupt file raises naming it."""
    shapes: dict[str, tuple[int, ...]] = {}
    for path in files:
        try:
            with safe_open(str(path), framework="pt") as f:
                for key in f.keys():  # noqa: SIM118 (safe_open handles are not mappings)
                    shapes[key] = tuple(f.get_slice(key).get_shape())
        except (SafetensorError, OSError) as err:
            raise InvalidInputError(f"{path}: not a readable safetensors file ({err})") from err
    return shapes


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
