"""Quarantine: agents a detector flags are masked out of the forest's aggregation for a while.

The mitigation the aggregation's hard mask was built for (weight 0: nothing the agent's summary
carries reaches another agent, `forest/model/aggregation.py`). A flag in round t masks the agent
in rounds t+1 .. t+``rounds``; a flag while masked extends it. The agent still acts on its own
summary and context, only its influence on others is cut. The inner detector is fitted and
calibrated as usual, so the false-positive rate that decides how many honest agents are
silenced is the one the calibration set; what that costs on a clean run is measured too
(``utility_defended``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from defenses.registry import register_defense
from defenses.wrapped import DetectorWrapper, WrapperParams
from forest.validation import require_int


@dataclass(frozen=True)
class QuarantineParams(WrapperParams):
    rounds: int = 3  # rounds an agent stays masked after its last flag

    def __post_init__(self) -> None:
        super().__post_init__()
        require_int(self.rounds, "rounds", 1, 10_000)


@register_defense
class Quarantine(DetectorWrapper):
    name = "quarantine"
    description = "mask flagged agents out of the forest aggregation for a few rounds"
    kind = "mitigation"
    params_class = QuarantineParams
    params: QuarantineParams

    def __init__(self, params: QuarantineParams) -> None:
        super().__init__(params)
        self.masked_until: np.ndarray | None = None

    def reset(self) -> None:
        super().reset()
        self.masked_until = None

    def flag(self, scores: np.ndarray) -> np.ndarray:
        flagged = super().flag(scores)
        if self.masked_until is None:
            self.masked_until = np.full(scores.shape[0], -1, dtype=np.int64)
        self.masked_until[flagged] = self.round + self.params.rounds
        return flagged

    def aggregation_weights(self, round_: int, n_agents: int) -> np.ndarray | None:
        if self.masked_until is None:
            return None
        return (self.masked_until < round_).astype(np.float64)
