"""Compromised supply-chain agents are shown a false stock level: they believe they are empty.

An observation intervention: the attacker controls what its agents' sensors report, not the
forest. Each round the named observation ``features`` of the compromised agents (by default the
supply chain's ``inventory`` and ``inventory_position``, both in units per retailer served) are
replaced by ``value`` (default 0.0: an empty warehouse with nothing on the way). An order-up-to
decision made on that view orders the whole target every round; the parent sees the orders
(and forecasts from them once reports go stale), and the amplification travels upstream: the
objective is ``bullwhip``.

Feature names are checked twice: when the parameters are built (each must be an observation of
some registered economy, so a typo fails before a suite runs) and when the attack first acts
(each must be an observation of the economy it runs in: ``inventory`` means nothing to a firm).
Only the compromised agents' rows and the named columns change; everything else is the truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from attacks.base import Attack, AttackParams, AttackView
from attacks.registry import register_attack
from forest.economy import Economy, economy_class, economy_names
from forest.errors import ConfigError
from forest.validation import require, require_float


def known_features() -> list[str]:
    """Every observation name of every registered economy, in first-seen order."""
    names: list[str] = []
    for economy in economy_names():
        names += [f for f in economy_class(economy).observation_names if f not in names]
    return names


@dataclass(frozen=True)
class InventoryLiesParams(AttackParams):
    objective: str = "bullwhip"
    features: tuple[str, ...] = ("inventory", "inventory_position")  # observations to overwrite
    value: float = 0.0  # what the compromised agents see instead, in the feature's own units

    def __post_init__(self) -> None:
        super().__post_init__()
        require(len(self.features) > 0, "features", "at least one observation name", [])
        require(
            len(set(self.features)) == len(self.features),
            "features",
            "distinct observation names",
            list(self.features),
        )
        known = known_features()
        for name in self.features:
            require(name in known, "features", f"observation names among {', '.join(known)}", name)
        require_float(self.value, "value", -1e6, 1e6)


def feature_columns(economy: Economy, features: tuple[str, ...]) -> list[int]:
    """Column indices of ``features`` in the economy's observations; a clear error otherwise."""
    names = economy.observation_names
    for name in features:
        if name not in names:
            raise ConfigError(
                f"features: {name!r} is not an observation of {economy.name}; "
                f"allowed: {', '.join(names)}"
            )
    return [names.index(name) for name in features]


@register_attack
class InventoryLies(Attack):
    name = "inventory-lies"
    threat_tags = ("AML.T0043.003", "ASI06", "ASI08")
    description = "compromised agents observe a false inventory (empty by default) and over-order"
    surface = "observations"
    params_class = InventoryLiesParams
    params: InventoryLiesParams

    def check(self, economy: Economy, rounds: int) -> None:
        super().check(economy, rounds)
        feature_columns(economy, self.params.features)

    def observations(self, view: AttackView, observations: np.ndarray) -> np.ndarray | None:
        if not self.active(view.round):
            return None
        columns = feature_columns(view.economy, self.params.features)
        out = np.array(observations, copy=True)
        out[np.ix_(view.compromised, columns)] = self.params.value
        return out
