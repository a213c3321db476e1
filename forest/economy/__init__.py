"""Vectorised agent economies with expert policies; see ``base.Economy`` for the protocol."""

from forest.economy.base import ROLE_ID, ROLES, Economy, InteractionGraph, RoundResult
from forest.economy.config import EconomyConfig
from forest.economy.messages import Messages
from forest.economy.registry import (
    economies_counted,
    economy_class,
    economy_names,
    make_economy,
    register_economy,
    require_economy_table,
)

__all__ = [
    "ROLES",
    "ROLE_ID",
    "Economy",
    "EconomyConfig",
    "InteractionGraph",
    "Messages",
    "RoundResult",
    "economies_counted",
    "economy_class",
    "economy_names",
    "make_economy",
    "register_economy",
    "require_economy_table",
]

# Importing an economy module registers it.
from forest.economy import exchange, pricing, supply_chain  # noqa: F401

# And so does importing a third-party package's entry point (forest.plugins).
from forest.plugins import load_plugins

load_plugins("forest_redteam.economies")
