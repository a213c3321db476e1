"""Fallback escalation: when a round looks attacked or uncertain, the large model plays it.

The article's own answer to a compromised forest ("fallback to larger models for critical
decisions, increasing complexity"). The small forest plays every round; a wrapped detector
scores its agents, and the round is handed to the ``large`` checkpoint, running with robust
aggregation, when any trigger fires:

* at least ``flagged_share`` of the agents are flagged,
* the mean probability of the actions the small forest chose is below ``min_confidence``,
* the round is high-stakes (every ``high_stakes_every``-th round).

An escalation holds for ``hold_rounds`` rounds (an attack rarely stops the round it is seen).
With ``mask_flagged``, the agents the small forest's detector flags in an escalated round weigh
nothing in the large model's pooling (the article's "fallback" with the flags acted on, not only
counted); the compared twin, escalated in the attacked episode's rounds, masks its own flags
(false positives), as the deployed defense would on that clean episode. In an escalated round
the large model decides every agent's action and message; the attack acts on it as it does on
the small one (its own instance, against the large model's latent), so escalation helps only
as far as the large model, robustly pooled, is harder to poison. What
it costs: the small round always runs, the large one on top of it when escalated; the harness
reports the escalation rate, clean and attacked, and the FLOPs multiplier.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from defenses.base import Defense, EscalationTarget
from defenses.registry import register_defense
from defenses.wrapped import DetectorWrapper, WrapperParams
from forest.checkpoints import checkpoint_digest, load_policy
from forest.encoding_cache import shared_cache
from forest.errors import ConfigError
from forest.model.robust_aggregation import METHODS, RobustAggregation
from forest.policy import ForestPolicy
from forest.validation import require_float, require_int

_LARGE: dict[str, ForestPolicy] = {}  # checkpoints already loaded in this process


@dataclass(frozen=True)
class EscalationParams(WrapperParams):
    checkpoint: str = "checkpoints/large"  # the forest escalated rounds are replayed on
    aggregation: str = "trimmed-mean"  # the large model's robust pooling, or "plain"
    flagged_share: float = 0.05  # escalate when at least this share of agents is flagged
    min_confidence: float = 0.0  # escalate when mean action confidence falls below (0: off)
    high_stakes_every: int = 0  # every k-th round is always escalated (0: none)
    hold_rounds: int = 2  # rounds an escalation lasts
    mask_flagged: bool = False  # the round's flagged agents weigh 0 in the large model's pooling

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.aggregation != "plain" and self.aggregation not in METHODS:
            raise ConfigError(
                f"aggregation: expected plain or one of {', '.join(METHODS)}, "
                f"got {self.aggregation!r}"
            )
        if not (Path(self.checkpoint) / "model.safetensors").is_file():
            raise ConfigError(
                f"checkpoint: no forest at {self.checkpoint!r} (train one with "
                "`forest train --preset large --out checkpoints/large`)"
            )
        require_float(self.flagged_share, "flagged_share", 0.0, 1.0, low_open=True)
        require_float(self.min_confidence, "min_confidence", 0.0, 1.0)
        require_int(self.high_stakes_every, "high_stakes_every", 0, 100_000)
        require_int(self.hold_rounds, "hold_rounds", 1, 100_000)


class LargeModelGuard(Defense):
    """Not registered: the defense an escalated round runs under (``escalation_target``): the
    large model's robust pooling, and the small forest's flags of the round as masks, if any."""

    name = "escalation-target"
    description = "the large model's robust pooling in an escalated round"
    kind = "aggregation"
    params: RobustAggregation | None

    def __init__(
        self, params: RobustAggregation | None, flags: Callable[[], np.ndarray | None]
    ) -> None:
        super().__init__(params)
        self.flags = flags

    def robust_aggregation(self) -> RobustAggregation | None:
        return self.params

    def aggregation_weights(self, round_: int, n_agents: int) -> np.ndarray | None:
        flagged = self.flags()
        return None if flagged is None else (~flagged).astype(np.float64)


@register_defense
class Escalation(DetectorWrapper):
    name = "escalation"
    description = "hand flagged or uncertain rounds to the large model with robust aggregation"
    kind = "escalation"
    params_class = EscalationParams
    params: EscalationParams

    def __init__(self, params: EscalationParams) -> None:
        super().__init__(params)
        self.held_until = -1
        self.flagged: np.ndarray | None = None  # this round's flags, as the small forest saw

    def reset(self) -> None:
        super().reset()
        self.held_until = -1
        self.flagged = None

    def masked(self) -> np.ndarray | None:
        """(n,) bool the agents the large model's pooling leaves out this round, or None."""
        return self.flagged if self.params.mask_flagged else None

    def files_digest(self) -> str:
        return checkpoint_digest(Path(self.params.checkpoint))

    def escalation_target(self) -> EscalationTarget:
        """The large forest (no memory: the harness takes one per episode) and what guards it
        in an escalated round: its robust pooling, no detector of its own (the wrapped one was
        fitted on the small forest's latent), and the small forest's flags as masks if
        ``mask_flagged``."""
        path = str(Path(self.params.checkpoint).resolve())
        if path not in _LARGE:
            _LARGE[path] = load_policy(Path(path))
        loaded = _LARGE[path]
        guard = LargeModelGuard(
            None
            if self.params.aggregation == "plain"
            else RobustAggregation(method=self.params.aggregation),
            self.masked,
        )
        # Every episode's large forest shares its encoded rows (``forest.encoding_cache``): the
        # compared twin replays the attacked episode's escalated rounds on clean states.
        policy = ForestPolicy(
            loaded.model, loaded.tokenizer, loaded.router, encodings=shared_cache(loaded.model)
        )
        return EscalationTarget(policy, guard)

    def escalates(self, round_: int, flagged: np.ndarray, confidence: np.ndarray) -> bool:
        """Whether the large model plays ``round_``, from the small forest's view of it."""
        p = self.params
        self.flagged = np.asarray(flagged, dtype=bool)
        triggered = (
            float(flagged.mean()) >= p.flagged_share
            or float(confidence.mean()) < p.min_confidence
            or (p.high_stakes_every > 0 and round_ % p.high_stakes_every == 0)
        )
        if triggered:
            self.held_until = round_ + p.hold_rounds - 1
        return round_ <= self.held_until
