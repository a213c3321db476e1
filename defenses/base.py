"""What every defense is, and what a detector adds: the protocol the harness drives.

A defense may provide any of these, each with a default that changes nothing, and the harness
asks every defense for all of them (it never asks what kind a defense is):

- ``aggregation_weights``: per-agent weights in the forest's aggregation (quarantine);
- ``robust_aggregation``: robust pooling of the tree slots;
- ``filter_messages``: what the message channel delivers (authentication, rate limits);
- ``detector`` with ``score``/``flag`` and a calibrated ``threshold``: agents scored each round;
- ``escalation_target`` and ``escalates``: a larger model that plays the rounds it hands over;
- ``executed_actions``: which of the round's decided actions the economy carries out, given the
  round's flags (a fence withholds flagged agents' new decisions);
- ``watches_only``: True when it changes nothing the forest does (a pure detector), so that
  its cells' clean twin is the undefended episode.

A detector is a defense that scores agents: fit on clean rounds, score each agent each round,
flag at a threshold calibrated to a target false-positive rate on clean rounds it was not
fitted on.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from forest.economy import Messages
from forest.errors import InvalidInputError
from forest.model.robust_aggregation import RobustAggregation
from forest.params import from_dict, to_dict
from forest.policy import ForestPolicy
from forest.validation import require_float


@dataclass(frozen=True)
class RoundSignals:
    """What a detector may read about one round of the forest."""

    round: int
    summaries: np.ndarray  # (n, d) the compressed latent, after any injection
    roles: np.ndarray  # (n,) role ids
    actions: np.ndarray  # (n,)
    # (n,) the most any agent got of one of its tree slots' attention (max over slots and
    # heads), in fair shares (1 / agents in its tree); None where the model has no slots
    attention_share: np.ndarray | None = None
    # (n,) each agent's tree in the forest, numbered from 0: the agents whose summaries the
    # forest pools together (every edge of an economy's interaction graph lies within one);
    # None where the model has no slots
    tree: np.ndarray | None = None


def round_signals(round_: int, output: Any, roles: np.ndarray, actions: np.ndarray) -> RoundSignals:
    """What a detector may read, from a round's ``ForestOutput`` (attention included)."""
    summaries = output.summaries.detach().numpy()
    share = tree = None
    if output.attention is not None:
        n = summaries.shape[0]
        attention = output.attention
        tree_size = attention.tree_index.bincount()[attention.tree_index]
        most = attention.agent_to_tree_slot.detach().amax(dim=(1, 2)) * tree_size
        share = most[:n].numpy().astype(np.float64)
        # Sybils, when an attack adds them, follow the n agents in the pooled arrays.
        tree = attention.tree_index[:n].numpy().copy()
    return RoundSignals(round_, summaries, roles.copy(), actions, share, tree)


@dataclass(frozen=True)
class DefenseParams:
    """A defense without parameters."""


@dataclass(frozen=True)
class DetectorParams:
    target_fpr: float = 0.01  # the flag threshold lets this share of clean agent-rounds through

    def __post_init__(self) -> None:
        require_float(self.target_fpr, "target_fpr", 0.0, 0.5, low_open=True)


@dataclass(frozen=True)
class EscalationTarget:
    """Where an escalating defense hands a round: a larger forest (``policy``, fresh memory for
    each episode) and the defense that guards it there (``guard``: its robust pooling)."""

    policy: ForestPolicy
    guard: Defense


class Defense:
    """A defense; it changes the forest through the hooks it overrides (module docstring)."""

    name: ClassVar[str]
    description: ClassVar[str]
    kind: ClassVar[str]  # for people: detector | mitigation | aggregation | channel | escalation
    params_class: ClassVar[type] = DefenseParams
    scores_agents: ClassVar[bool] = False  # detectors (and what wraps one) score every agent
    watches_only: ClassVar[bool] = False  # changes nothing the forest does (pure detectors)

    def __init__(self, params: Any) -> None:
        self.params = params

    @classmethod
    def from_config(cls, params: dict[str, Any], where: str) -> Defense:
        return cls(from_dict(cls.params_class, params, f"{where}.params"))

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "params": to_dict(self.params)}

    def files_digest(self) -> str:
        """A content hash of the files the defense loads (a checkpoint), so that a suite reruns
        its cells when they change; empty for defenses that load none."""
        return ""

    def reset(self) -> None:
        """Forget per-episode state; the harness calls it before every episode."""

    @property
    def detector(self) -> Detector | None:
        """The detector that scores agents for this defense, if any (what an adaptive attacker
        must evade)."""
        return None

    def aggregation_weights(self, round_: int, n_agents: int) -> np.ndarray | None:
        """(n,) weights for the forest's aggregation this round; None changes nothing."""
        return None

    def robust_aggregation(self) -> RobustAggregation | None:
        """How the forest pools its tree slots; None: the plain attention-weighted mean."""
        return None

    def filter_messages(self, channel: Channel) -> Messages:
        """What the channel delivers of a round's messages (the harness counts the rest as
        rejected)."""
        return channel.edited

    def escalation_target(self) -> EscalationTarget | None:
        """The larger forest this defense hands rounds to; None: it never escalates."""
        return None

    def executed_actions(self, round_: int, flagged: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """(n,) the actions the economy carries out this round, from the decided ``actions``
        (n,) and the round's flags (n,) bool; the default carries out every decision. Only a
        defense that scores agents has flags, so only such a defense is asked."""
        return actions

    def escalates(self, round_: int, flagged: np.ndarray, confidence: np.ndarray) -> bool:
        """Whether ``escalation_target`` plays ``round_``, from the deployed forest's flags
        (n,) and action confidences (n,) in it."""
        return False


@dataclass(frozen=True)
class Channel:
    """One round on the message channel: what honest agents sent, what arrived after any
    attack rewrote it, and whose keys the attacker holds."""

    round: int
    n_agents: int
    sent: Messages
    edited: Messages
    compromised: np.ndarray


class Detector(Defense, ABC):
    """Subclasses implement ``fit`` and ``score``; higher scores are more suspicious."""

    kind: ClassVar[str] = "detector"
    params_class: ClassVar[type] = DetectorParams
    scores_agents: ClassVar[bool] = True
    watches_only: ClassVar[bool] = True
    params: DetectorParams

    def __init__(self, params: DetectorParams) -> None:
        super().__init__(params)
        self.threshold: float | None = None

    @property
    def detector(self) -> Detector:
        return self

    @abstractmethod
    def fit(self, rounds: Sequence[RoundSignals]) -> None:
        """Learn what clean rounds look like."""

    @abstractmethod
    def score(self, signals: RoundSignals) -> np.ndarray:
        """(n,) anomaly score of each agent this round; rounds of an episode come in order."""

    def calibrate(self, rounds: Sequence[RoundSignals]) -> float:
        """Set the flag threshold from held-out clean rounds (one episode, in order); returns
        it."""
        self.reset()
        scores = np.concatenate([self.score(r) for r in rounds])
        self.reset()
        self.threshold = float(np.quantile(scores, 1.0 - self.params.target_fpr, method="higher"))
        return self.threshold

    def differentiable_score(
        self, summaries: torch.Tensor, roles: np.ndarray, log_shares: torch.Tensor
    ) -> torch.Tensor | None:
        """(k,) ``score`` of k agents as a function torch can differentiate, given their
        summaries (k, d), roles and log attention shares (k,); None where the score is not
        differentiable (an adaptive attacker then differentiates a stand-in)."""
        return None

    def flag(self, scores: np.ndarray) -> np.ndarray:
        if self.threshold is None:
            raise InvalidInputError(f"{self.name}: calibrate the detector before flagging")
        return scores > self.threshold
