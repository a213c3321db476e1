"""Economies by name: adding one is one module with ``@register_economy`` on its class."""

from __future__ import annotations

from typing import Any

from forest.economy.base import Economy
from forest.economy.config import EconomyConfig
from forest.errors import ConfigError, UnknownNameError
from forest.validation import require_int

_ECONOMIES: dict[str, type[Economy]] = {}


def register_economy(cls: type[Economy]) -> type[Economy]:
    if cls.name in _ECONOMIES:
        raise ValueError(f"economy {cls.name!r} is registered twice")
    if not getattr(cls, "welfare_name", ""):
        # Harm is welfare lost: every round's metrics carry "welfare", and this says what it is.
        raise ValueError(f"economy {cls.name!r} declares no welfare_name")
    _ECONOMIES[cls.name] = cls
    return cls


def economy_names() -> list[str]:
    return sorted(_ECONOMIES)


def economy_class(name: str) -> type[Economy]:
    if name not in _ECONOMIES:
        raise UnknownNameError(f"economy: unknown economy {name!r}; allowed: {economy_names()}")
    return _ECONOMIES[name]


def require_economy_table(value: Any, field: str) -> None:
    """A config table keyed by economy name (``{"supply_chain": ...}``): a dict whose every key
    names a registered economy; the values are the caller's to check."""
    if not isinstance(value, dict):
        raise ConfigError(f"{field}: expected a table economy -> value, got {value!r}")
    for name in value:
        if name not in _ECONOMIES:
            raise ConfigError(f"{field}: unknown economy {name!r}; allowed: {economy_names()}")


def economies_counted(counts: Any, default: int, field: str) -> tuple[str, ...]:
    """The registered economies, in registry order, whose count is above 0: ``counts`` is a
    table economy -> count (a whole number, 0 leaving the economy out), ``default`` the count
    of those it does not name. At least one must be left."""
    require_economy_table(counts, field)
    for name, count in counts.items():
        require_int(count, f"{field}[{name}]", 0)
    counted = tuple(name for name in economy_names() if counts.get(name, default) > 0)
    if not counted:
        raise ConfigError(f"{field}: {counts} leaves no economy")
    return counted


def make_economy(
    name: str, seed: int = 0, config: EconomyConfig | None = None, **overrides: Any
) -> Economy:
    """Build economy ``name`` from its default config (or ``config``) with field overrides."""
    cls = economy_class(name)
    base = config if config is not None else cls.config_class()
    return cls(base.replace(**overrides) if overrides else base, seed)
