"""Collusion screens by name: registering a class is all it takes to add one."""

from __future__ import annotations

from defenses.collusion.base import Screen
from forest.errors import UnknownNameError

_SCREENS: dict[str, type[Screen]] = {}


def register_screen(cls: type[Screen]) -> type[Screen]:
    if cls.name in _SCREENS:
        raise ValueError(f"screen {cls.name!r} is registered twice")
    _SCREENS[cls.name] = cls
    return cls


def screen_names(panel_type: type | None = None) -> list[str]:
    """Every screen, or those that read ``panel_type`` (PricePanel, AuctionPanel)."""
    return sorted(n for n, c in _SCREENS.items() if panel_type in (None, c.panel_type))


def make_screen(name: str) -> Screen:
    if name not in _SCREENS:
        raise UnknownNameError(f"unknown screen {name!r}; allowed: {', '.join(screen_names())}")
    return _SCREENS[name]()
