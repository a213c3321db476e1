"""Named presets for the training configs: a preset is a dict of field values, overridable."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Self

from forest.errors import ConfigError, UnknownNameError


class NamedPresets:
    """Mixin for a frozen dataclass config with a ``presets`` table."""

    presets: ClassVar[dict[str, dict[str, Any]]] = {}

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> Self:
        if name not in cls.presets:
            raise UnknownNameError(
                f"preset: unknown {cls.__name__} preset {name!r}; allowed: {sorted(cls.presets)}"
            )
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - fields)
        if unknown:
            raise ConfigError(
                f"{cls.__name__}: unknown field(s) {unknown}; allowed: {sorted(fields)}"
            )
        return cls(**{**cls.presets[name], **overrides})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
