"""The base of every economy config: a frozen, validated dataclass with named presets."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Self

from forest.errors import ConfigError, UnknownNameError
from forest.validation import require_int

MAX_AGENTS = 1_000_000


@dataclasses.dataclass(frozen=True)
class EconomyConfig:
    """Fields common to every economy. Subclasses validate their own fields in ``validate``."""

    n_agents: int = 500
    presets: ClassVar[dict[str, dict[str, Any]]] = {}
    min_agents: ClassVar[int] = 2

    def __post_init__(self) -> None:
        # Suite files are TOML, whose arrays arrive as lists; tuples keep configs hashable.
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):
                object.__setattr__(self, f.name, tuple(value))
        require_int(self.n_agents, "n_agents", self.min_agents, MAX_AGENTS)
        self.validate()

    def validate(self) -> None:
        """Check the subclass's own fields; raise ConfigError naming the field."""

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Self:
        unknown = sorted(set(values) - set(cls.field_names()))
        if unknown:
            raise ConfigError(
                f"{cls.__name__}: unknown field(s) {unknown}; allowed: {cls.field_names()}"
            )
        return cls(**values)

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> Self:
        if name not in cls.presets:
            raise UnknownNameError(
                f"preset: unknown {cls.__name__} preset {name!r}; allowed: {sorted(cls.presets)}"
            )
        return cls.from_dict({**cls.presets[name], **overrides})

    def replace(self, **overrides: Any) -> Self:
        return self.from_dict({**dataclasses.asdict(self), **overrides})
