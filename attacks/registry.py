"""Attacks by name: registering a class is all it takes to add one."""

from __future__ import annotations

from typing import Any

from attacks.base import Attack
from attacks.threat_tags import TAG_NAMES
from forest.errors import UnknownNameError

_ATTACKS: dict[str, type[Attack]] = {}
TAG_NAMES_AT = "attacks/threat_tags.py"


def register_attack(cls: type[Attack]) -> type[Attack]:
    if cls.name in _ATTACKS:
        raise ValueError(f"attack {cls.name!r} is registered twice")
    unknown = sorted(set(cls.threat_tags) - set(TAG_NAMES))
    if unknown:
        raise ValueError(f"attack {cls.name!r}: unknown threat tags {unknown}; see {TAG_NAMES_AT}")
    _ATTACKS[cls.name] = cls
    return cls


def attack_names() -> list[str]:
    return sorted(_ATTACKS)


def attack_class(name: str) -> type[Attack]:
    if name not in _ATTACKS:
        raise UnknownNameError(f"unknown attack {name!r}; allowed: {', '.join(attack_names())}")
    return _ATTACKS[name]


def make_attack(
    name: str, params: dict[str, Any] | None = None, threat: dict[str, Any] | None = None
) -> Attack:
    return attack_class(name).from_config(params or {}, threat or {}, f"attack {name}")
