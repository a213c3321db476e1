"""Defenses by name: registering a class is all it takes to add one."""

from __future__ import annotations

from typing import Any

from defenses.base import Detector
from forest.errors import UnknownNameError

_DEFENSES: dict[str, type[Detector]] = {}


def register_defense(cls: type[Detector]) -> type[Detector]:
    if cls.name in _DEFENSES:
        raise ValueError(f"defense {cls.name!r} is registered twice")
    _DEFENSES[cls.name] = cls
    return cls


def defense_names() -> list[str]:
    return sorted(_DEFENSES)


def defense_class(name: str) -> type[Detector]:
    if name not in _DEFENSES:
        raise UnknownNameError(f"unknown defense {name!r}; allowed: {', '.join(defense_names())}")
    return _DEFENSES[name]


def make_defense(name: str, params: dict[str, Any] | None = None) -> Detector:
    return defense_class(name).from_config(params or {}, f"defense {name}")
