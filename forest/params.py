"""Frozen parameter dataclasses built from plain dicts (TOML tables), with typed checks.

Attacks, defenses and suite sections declare their parameters as dataclasses; ``from_dict``
rejects unknown keys and wrong types with a message naming the field and what it allows, then
the dataclass's own ``__post_init__`` checks ranges. TOML arrays arrive as lists and become
tuples, so that parameters stay hashable.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar

from forest.errors import ConfigError

P = TypeVar("P")


def _type_name(annotation: Any) -> str:
    if annotation is type(None):
        return "none"
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(annotation))
    if origin is tuple:
        item = typing.get_args(annotation)[0]
        plural = {int: "integers", float: "numbers", bool: "true/false values", str: "strings"}
        return f"a list of {plural.get(item, _type_name(item))}"
    if origin is dict or annotation is dict:
        return "a table"
    return {int: "an integer", float: "a number", bool: "true/false", str: "a string"}.get(
        annotation, getattr(annotation, "__name__", str(annotation))
    )


def _coerce(value: Any, annotation: Any) -> tuple[bool, Any]:
    """(matches, value as the field stores it) for the few types parameters use."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(annotation):
            ok, coerced = _coerce(value, option)
            if ok:
                return True, coerced
        return False, value
    if annotation is type(None):
        return value is None, value
    if annotation is bool:
        return isinstance(value, bool), value
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if annotation is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return ok, float(value) if ok else value
    if annotation is str:
        return isinstance(value, str), value
    if origin is tuple:
        item = typing.get_args(annotation)[0]
        if not isinstance(value, list | tuple):
            return False, value
        coerced = []
        for element in value:
            ok, c = _coerce(element, item)
            if not ok:
                return False, value
            coerced.append(c)
        return True, tuple(coerced)
    if origin is dict or annotation is dict:
        return isinstance(value, dict), value
    if dataclasses.is_dataclass(annotation):  # a section already built by from_dict
        return isinstance(value, annotation), value
    raise TypeError(f"unsupported parameter type {annotation!r}")


def field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def from_dict(cls: type[P], values: dict[str, Any], where: str) -> P:
    """An instance of dataclass ``cls`` from ``values``; errors start with ``where``."""
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a table, got {values!r}")
    allowed = field_names(cls)
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(allowed)}")
    required = [
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    missing = [name for name in required if name not in values]
    if missing:
        raise ConfigError(f"{where}.{missing[0]}: missing; it is required")
    hints = typing.get_type_hints(cls)
    fields = {}
    for name, value in values.items():
        ok, coerced = _coerce(value, hints[name])
        if not ok:
            raise ConfigError(f"{where}.{name}: expected {_type_name(hints[name])}, got {value!r}")
        fields[name] = coerced
    try:
        return cls(**fields)
    except ConfigError as exc:
        raise ConfigError(f"{where}.{exc}") from None


def to_dict(params: Any) -> dict[str, Any]:
    """Plain JSON-able values (tuples as lists)."""
    return {
        k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(params).items()
    }
