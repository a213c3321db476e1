"""Robust aggregation inside the forest: each tree slot pools its agents robustly.

The estimators live with the model (`forest/model/robust_aggregation.py`), since they replace a
step of its aggregation; this defense only chooses one. It scores nobody: its whole effect is on
how far a poisoned summary moves its tree, and what it costs a clean forest (``utility_defended``).
"""

from __future__ import annotations

from defenses.base import Defense
from defenses.registry import register_defense
from forest.model.robust_aggregation import RobustAggregation


@register_defense
class RobustAggregationDefense(Defense):
    name = "robust-aggregation"
    description = (
        "tree slots pool agents robustly: norm clip, trimmed mean, median, centered clip, "
        "geometric median, Krum, Multi-Krum (optionally after nearest-neighbour mixing)"
    )
    kind = "aggregation"
    params_class = RobustAggregation
    params: RobustAggregation

    def robust_aggregation(self) -> RobustAggregation:
        return self.params
