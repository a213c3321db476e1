"""Success tests that several attacks share, each a comparison of a round with its clean twin."""

from __future__ import annotations

import numpy as np

from attacks.base import RoundOutcome


def completion_dropped(outcome: RoundOutcome, margin: float) -> bool:
    """Honest agents completed their tasks less often than in the twin, by more than ``margin``."""
    honest = outcome.honest
    drop = outcome.twin_completed[honest].mean() - outcome.completed[honest].mean()
    return bool(drop > margin)


def actions_inflated(outcome: RoundOutcome, margin: float) -> bool:
    """Honest agents' mean action rose above the twin's by more than ``margin`` action classes."""
    honest = outcome.honest
    rise = (outcome.actions[honest] - outcome.twin_actions[honest]) / outcome.action_unit[honest]
    return bool(np.mean(rise) > margin)
