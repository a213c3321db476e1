"""Fence: a flagged agent's new decisions are not carried out; it keeps its last trusted action.

In a forest the model is the actuator: it decides every agent's action and the operator
executes them. A compromised agent's own decision, read from the summary it poisoned, is where
most of a harm-seeking attack's damage is done (`experiments/harm_decomposition.py`), and no
defense on the latent (pooling, masks, a robust model) reaches it, since the agent's head reads
its own summary. The fence does: in the round of a flag and ``rounds`` rounds after, the
agent's action is the last one it executed while unflagged (an agent flagged before it ever
was trusted acts as decided: there is nothing to fall back on). Its messages still go out, and
it still pools with the others; quarantine (which masks it) is the defense for that.

What it assumes: the operator carries out the forest's decisions. An attacker who holds an
agent's actuator (``compromised-order-spike`` writes its actions after the forest) would not be
stopped by it in a deployment; against such attacks its figures are an upper bound. What it
costs: an honest agent flagged by mistake holds its action for a few rounds (the clean twin
measures that). The channel replays (``redteam.replays``) are of the decisions before the
fence, so a fenced cell's channel shares compare unlike things.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from defenses.registry import register_defense
from defenses.wrapped import DetectorWrapper, WrapperParams
from forest.validation import require_int


@dataclass(frozen=True)
class FenceParams(WrapperParams):
    rounds: int = 3  # rounds an agent's decisions stay withheld after its last flag

    def __post_init__(self) -> None:
        super().__post_init__()
        require_int(self.rounds, "rounds", 0, 10_000)


@register_defense
class Fence(DetectorWrapper):
    name = "fence"
    description = "flagged agents keep their last trusted action for a few rounds"
    kind = "mitigation"
    params_class = FenceParams
    params: FenceParams

    def __init__(self, params: FenceParams) -> None:
        super().__init__(params)
        self.reset()

    def reset(self) -> None:
        super().reset()
        self.fenced_until: np.ndarray | None = None
        self.trusted: np.ndarray | None = None  # each agent's last action executed unflagged
        self.has_trusted: np.ndarray | None = None

    def executed_actions(self, round_: int, flagged: np.ndarray, actions: np.ndarray) -> np.ndarray:
        if self.fenced_until is None:
            self.fenced_until = np.full(actions.shape[0], -1, dtype=np.int64)
            self.trusted = actions.copy()
            self.has_trusted = np.zeros(actions.shape[0], dtype=bool)
        self.fenced_until[flagged] = round_ + self.params.rounds
        fenced = self.fenced_until >= round_
        executed = np.where(fenced & self.has_trusted, self.trusted, actions)
        self.trusted[~fenced] = actions[~fenced]
        self.has_trusted |= ~fenced
        return executed
