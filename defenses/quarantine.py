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

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from defenses.base import Detector, DetectorParams, RoundSignals
from defenses.registry import defense_class, defense_names, register_defense
from forest.errors import ConfigError
from forest.validation import require_int


@dataclass(frozen=True)
class QuarantineParams(DetectorParams):
    detector: str = "mahalanobis"
    rounds: int = 3  # rounds an agent stays masked after its last flag

    def __post_init__(self) -> None:
        super().__post_init__()
        require_int(self.rounds, "rounds", 1, 10_000)
        if self.detector == "quarantine" or self.detector not in defense_names():
            allowed = [n for n in defense_names() if defense_class(n).kind == "detector"]
            raise ConfigError(
                f"detector: expected one of {', '.join(allowed)}, got {self.detector!r}"
            )


@register_defense
class Quarantine(Detector):
    name = "quarantine"
    description = "mask flagged agents out of the forest aggregation for a few rounds"
    kind = "mitigation"
    params_class = QuarantineParams
    params: QuarantineParams

    def __init__(self, params: QuarantineParams) -> None:
        super().__init__(params)
        inner = defense_class(params.detector)
        self.inner = inner(inner.params_class(target_fpr=params.target_fpr))
        self.masked_until: np.ndarray | None = None
        self.round = -1

    @property
    def detector(self) -> Detector:
        return self.inner

    def fit(self, rounds: Sequence[RoundSignals]) -> None:
        self.inner.fit(rounds)

    def calibrate(self, rounds: Sequence[RoundSignals]) -> float:
        self.threshold = self.inner.calibrate(rounds)
        return self.threshold

    def reset(self) -> None:
        self.inner.reset()
        self.masked_until = None
        self.round = -1

    def score(self, signals: RoundSignals) -> np.ndarray:
        self.round = signals.round
        return self.inner.score(signals)

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
