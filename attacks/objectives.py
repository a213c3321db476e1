"""What an attack is after, as a differentiable gain (for white-box attacks) and a success test.

An objective pushes some roles' actions up or down (``push``: role -> +1 or -1), or, with no
push, pulls honest agents' decisions away from what they would have done (the KL divergence from
the clean decision: untargeted). Its success test compares one attacked round with the clean
twin's, over the honest agents of ``success_roles`` (all if empty):

- ``actions-up`` / ``actions-down``: their mean action moved by more than ``margin`` classes;
- ``completion-drop``: their task completion fell by more than ``margin``;
- ``deviation``: more than a ``margin`` share of them acted differently (by any class);
- ``welfare-drop``: the economy's welfare fell below the twin's by more than a ``margin``
  share of the twin's (the whole economy's: harm is what the people it serves lose).

``harm`` is the objective of the measurement rules themselves: its gain is the round's welfare
lost, through the economy's differentiable one-round surrogate (``Economy.welfare_surrogate``:
the newsvendor cost of orders in the supply chain, consumer surplus in pricing, realised surplus
in the exchange).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from forest.economy import ROLES
from forest.economy.base import WelfareSurrogate
from forest.errors import InvalidInputError, UnknownNameError

SUCCESS_TESTS = ("actions-up", "actions-down", "completion-drop", "deviation", "welfare-drop")


@dataclass(frozen=True)
class RoundOutcome:
    """One attacked round next to its clean twin, for the attack's success test."""

    round: int
    honest: np.ndarray  # (n,) bool
    roles: np.ndarray  # (n,) role ids
    actions: np.ndarray  # (n,) attacked episode
    twin_actions: np.ndarray  # (n,) clean twin
    completed: np.ndarray  # (n,) bool
    twin_completed: np.ndarray  # (n,) bool
    action_unit: np.ndarray  # (n,) one action class, per agent
    welfare: float = float("nan")  # the economy's welfare this round, attacked
    twin_welfare: float = float("nan")  # and in the clean twin


@dataclass(frozen=True)
class Objective:
    name: str
    description: str
    success: str
    margin: float  # default success margin
    push: dict[str, float] = field(default_factory=dict)
    success_roles: tuple[str, ...] = ()
    economies: tuple[str, ...] = ()  # where it applies; empty: every economy

    def gain(
        self,
        logits: torch.Tensor,
        clean_logits: torch.Tensor,
        honest: torch.Tensor,
        roles: torch.Tensor,
        welfare: WelfareSurrogate | None = None,
    ) -> torch.Tensor:
        """Scalar to maximise, from (n, C) action logits (invalid classes at -inf); ``welfare``
        is the round's surrogate, which the ``welfare-drop`` objectives need."""
        if self.success == "welfare-drop":
            if welfare is None:
                raise InvalidInputError(f"objective {self.name!r} needs the economy's welfare "
                                        "surrogate; this economy offers none")  # fmt: skip
            clean = F.softmax(clean_logits, dim=1).nan_to_num(0.0)
            return welfare(clean) - welfare(F.softmax(logits, dim=1).nan_to_num(0.0))
        if not self.push:
            clean = F.log_softmax(clean_logits[honest], dim=1)
            attacked = F.log_softmax(logits[honest], dim=1)
            finite = torch.isfinite(clean)
            return (clean.exp() * (clean - attacked)).where(finite, 0.0).sum(dim=1).mean()
        probs = F.softmax(logits, dim=1).nan_to_num(0.0)
        expected = probs @ torch.arange(logits.shape[1], dtype=probs.dtype)  # (n,)
        sign = torch.zeros_like(expected)
        for role, s in self.push.items():
            sign[roles == ROLES.index(role)] = float(s)
        targeted = honest & (sign != 0)
        if not bool(targeted.any()):
            return expected.sum() * 0.0
        return (sign * expected)[targeted].mean()

    def succeeded(self, outcome: RoundOutcome, margin: float | None = None) -> bool:
        margin = self.margin if margin is None else margin
        if self.success == "welfare-drop":
            lost = outcome.twin_welfare - outcome.welfare
            return bool(lost > margin * abs(outcome.twin_welfare))
        who = outcome.honest.copy()
        if self.success_roles:
            who &= np.isin(outcome.roles, [ROLES.index(r) for r in self.success_roles])
        if not who.any():
            return False
        moved = (outcome.actions[who] - outcome.twin_actions[who]) / outcome.action_unit[who]
        if self.success == "actions-up":
            return bool(moved.mean() > margin)
        if self.success == "actions-down":
            return bool(-moved.mean() > margin)
        if self.success == "completion-drop":
            drop = outcome.twin_completed[who].mean() - outcome.completed[who].mean()
            return bool(drop > margin)
        return bool((np.abs(moved) > 0.5).mean() > margin)


OBJECTIVES: dict[str, Objective] = {
    o.name: o
    for o in (
        Objective("untargeted", "honest agents decide differently from the clean twin",
                  "deviation", 0.05),
        Objective("degrade", "honest agents complete fewer tasks", "completion-drop", 0.01),
        Objective("harm", "the economy's welfare falls (its own measure: total cost, consumer "
                  "surplus, realised surplus)", "welfare-drop", 0.05),
        Objective("raise-actions", "honest agents' actions (orders, prices, bids) go up",
                  "actions-up", 0.25, push=dict.fromkeys(ROLES, 1)),
        Objective("lower-actions", "honest agents' actions go down", "actions-down", 0.25,
                  push=dict.fromkeys(ROLES, -1)),
        Objective("bullwhip", "warehouses and suppliers over-order (bullwhip amplification)",
                  "actions-up", 0.25, push={"warehouse": 1, "supplier": 1},
                  success_roles=("warehouse", "supplier"), economies=("supply_chain",)),
        Objective("stockouts", "upstream orders fall until retailers run out of stock",
                  "completion-drop", 0.01, push={"warehouse": -1, "supplier": -1},
                  success_roles=("retailer",), economies=("supply_chain",)),
        Objective("raise-prices", "firms raise prices: price fixing from outside",
                  "actions-up", 0.25, push={"firm": 1}, economies=("pricing",)),
        Objective("move-clearing-price", "bids and asks rise, and the clearing price with them",
                  "actions-up", 0.25, push={"buyer": 1, "seller": 1}, economies=("exchange",)),
        Objective("block-trades", "buyers bid lower and sellers ask higher until trades fail",
                  "completion-drop", 0.01, push={"buyer": -1, "seller": 1},
                  economies=("exchange",)),
    )
}  # fmt: skip


def objective(name: str) -> Objective:
    if name not in OBJECTIVES:
        raise UnknownNameError(
            f"objective: unknown objective {name!r}; allowed: {', '.join(OBJECTIVES)}"
        )
    return OBJECTIVES[name]
