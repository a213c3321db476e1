"""The decoy: compromised agents as conspicuous as possible to the monitor, with no influence.

A check, not a threat (issue #21): the decoy's agents show the defense's monitor summaries
pushed far out (``scale`` times the round's largest summary norm, in a fresh random
direction each round, so that they also jump from round to round) and ``scale`` times the
largest attention share, while the forest, the messages and the economy are left exactly as
they are. So the decoy
itself changes nothing any agent does; whatever spread or harm a cell shows under a defense is
that defense's own doing, acting on flags that are all true positives. A defense that only
watches reads zero; an escalation compared like with like reads zero; a defense that changes
the forest for the flagged agents (quarantine) shows what removing them costs everyone else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from attacks.base import Attack, AttackParams, AttackView
from attacks.registry import register_attack
from forest.validation import require_float


@dataclass(frozen=True)
class DecoyParams(AttackParams):
    scale: float = 100.0  # shown norm, in units of the round's largest summary norm

    def __post_init__(self) -> None:
        super().__post_init__()
        require_float(self.scale, "scale", 0.0, 1e6, low_open=True)


@register_attack
class Decoy(Attack):
    name = "decoy"
    description = (
        "compromised agents show the monitor far-out summaries and change nothing else "
        "(a check: what a defense does on true flags alone)"
    )
    surface = "what the monitor reads"
    params_class = DecoyParams
    params: DecoyParams

    def monitored(
        self, view: AttackView, summaries: np.ndarray, attention_share: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray | None] | None:
        if not self.active(view.round):
            return None
        ids = view.compromised
        far = self.params.scale * float(np.linalg.norm(summaries, axis=1).max())
        directions = view.rng.standard_normal((ids.size, summaries.shape[1]))
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        shown = summaries.copy()
        shown[ids] = far * directions
        if attention_share is None:
            return shown, None
        share = attention_share.copy()
        share[ids] = self.params.scale * float(attention_share.max())
        return shown, share
