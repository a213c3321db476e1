"""A defense built on a detector it wraps (quarantine, escalation): the wrapped detector is
fitted, calibrated and scores as usual; the wrapper acts on its flags."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from defenses.base import Detector, DetectorParams, RoundSignals
from defenses.registry import defense_class, defense_names
from forest.errors import ConfigError


@dataclass(frozen=True)
class WrapperParams(DetectorParams):
    detector: str = "mahalanobis"  # the registered detector whose flags this defense acts on

    def __post_init__(self) -> None:
        super().__post_init__()
        allowed = [n for n in defense_names() if defense_class(n).watches_only]
        if self.detector not in allowed:
            raise ConfigError(
                f"detector: expected one of {', '.join(allowed)}, got {self.detector!r}"
            )


class DetectorWrapper(Detector):
    watches_only = False  # the wrapper acts on the flags
    params: WrapperParams

    def __init__(self, params: WrapperParams) -> None:
        super().__init__(params)
        inner = defense_class(params.detector)
        self.inner = inner(inner.params_class(target_fpr=params.target_fpr))
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
        self.round = -1

    def score(self, signals: RoundSignals) -> np.ndarray:
        self.round = signals.round
        return self.inner.score(signals)
