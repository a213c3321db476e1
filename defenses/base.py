"""What every detector is: fit on clean rounds, score each agent each round, flag at a threshold
calibrated to a target false-positive rate on clean rounds it was not fitted on."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from forest.errors import InvalidInputError
from forest.params import from_dict, to_dict
from forest.validation import require_float


@dataclass(frozen=True)
class RoundSignals:
    """What a detector may read about one round of the forest."""

    round: int
    summaries: np.ndarray  # (n, d) the compressed latent, after any injection
    roles: np.ndarray  # (n,) role ids
    actions: np.ndarray  # (n,)


@dataclass(frozen=True)
class DetectorParams:
    target_fpr: float = 0.01  # the flag threshold lets this share of clean agent-rounds through

    def __post_init__(self) -> None:
        require_float(self.target_fpr, "target_fpr", 0.0, 0.5, low_open=True)


class Detector(ABC):
    """Subclasses implement ``fit`` and ``score``; higher scores are more suspicious."""

    name: ClassVar[str]
    description: ClassVar[str]
    kind: ClassVar[str] = "detector"
    params_class: ClassVar[type[DetectorParams]] = DetectorParams

    def __init__(self, params: DetectorParams) -> None:
        self.params = params
        self.threshold: float | None = None

    @classmethod
    def from_config(cls, params: dict[str, Any], where: str) -> Detector:
        return cls(from_dict(cls.params_class, params, f"{where}.params"))

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "params": to_dict(self.params)}

    @abstractmethod
    def fit(self, rounds: Sequence[RoundSignals]) -> None:
        """Learn what clean rounds look like."""

    @abstractmethod
    def score(self, signals: RoundSignals) -> np.ndarray:
        """(n,) anomaly score of each agent this round; rounds of an episode come in order."""

    def reset(self) -> None:  # noqa: B027 - most detectors keep no state between rounds
        """Forget per-episode state (a detector that tracks agents over rounds keeps some);
        the harness calls it before every episode."""

    def calibrate(self, rounds: Sequence[RoundSignals]) -> float:
        """Set the flag threshold from held-out clean rounds (one episode, in order); returns
        it."""
        self.reset()
        scores = np.concatenate([self.score(r) for r in rounds])
        self.reset()
        self.threshold = float(np.quantile(scores, 1.0 - self.params.target_fpr, method="higher"))
        return self.threshold

    def aggregation_weights(self, round_: int, n_agents: int) -> np.ndarray | None:
        """(n,) weights for the forest's aggregation this round; a mitigation masks agents
        (weight 0), a pure detector changes nothing (None)."""
        return None

    def flag(self, scores: np.ndarray) -> np.ndarray:
        if self.threshold is None:
            raise InvalidInputError(f"{self.name}: calibrate the detector before flagging")
        return scores > self.threshold
