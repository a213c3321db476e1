"""Defenses by name: registering a class is all it takes to add one."""

from __future__ import annotations

from typing import Any

from defenses.base import Defense
from forest.errors import UnknownNameError

_DEFENSES: dict[str, type[Defense]] = {}


def register_defense(cls: type[Defense]) -> type[Defense]:
    if cls.name in _DEFENSES:
        raise ValueError(f"defense {cls.name!r} is registered twice")
    _DEFENSES[cls.name] = cls
    return cls


def defense_names() -> list[str]:
    return sorted(_DEFENSES)


def defense_class(name: str) -> type[Defense]:
    if name not in _DEFENSES:
        raise UnknownNameError(f"unknown defense {name!r}; allowed: {', '.join(defense_names())}")
    return _DEFENSES[name]


def make_defense(name: str, params: dict[str, Any] | None = None) -> Defense:
    return defense_class(name).from_config(params or {}, f"defense {name}")
