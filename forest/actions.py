"""How the forest's action classes map to each economy's integer actions.

The model has one action head for every economy: class ``c`` means action ``c * unit`` where
``Economy.action_unit()`` gives each agent's unit (1 for price and bid grids; for supply-chain
orders, a fraction of the number of retailers the agent serves, so that one class means the same
order per retailer to a warehouse over ten retailers as to a single retailer).
"""

from __future__ import annotations

import numpy as np

from forest.economy import Economy


def valid_classes(economy: Economy, n_classes: int) -> np.ndarray:
    """(n,) how many leading classes of an ``n_classes`` head are actions for each agent."""
    reachable = np.floor((economy.n_actions - 1) / economy.action_unit()).astype(np.int64) + 1
    return np.minimum(reachable, n_classes)


def actions_to_classes(economy: Economy, actions: np.ndarray, n_classes: int) -> np.ndarray:
    """Training targets: the class whose action is nearest each agent's action."""
    classes = np.rint(np.asarray(actions, dtype=np.float64) / economy.action_unit())
    return np.clip(classes, 0, valid_classes(economy, n_classes) - 1).astype(np.int64)


def classes_to_actions(economy: Economy, classes: np.ndarray) -> np.ndarray:
    """Integer actions for the economy, within its action range: ``classes`` (n,) one per
    agent, or (n, C) several per agent."""
    classes = np.asarray(classes, dtype=np.float64)
    unit = economy.action_unit().reshape(-1, *([1] * (classes.ndim - 1)))
    actions = np.rint(classes * unit)
    return np.clip(actions, 0, economy.n_actions - 1).astype(np.int64)
