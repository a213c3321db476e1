"""Robust pooling for the forest's tree slots: a defense inside the compressed attention.

A tree slot's state is normally the attention-weighted mean of its agents' value vectors (plus
the slot's null key), so one agent can move it as far as its value and its attention share
allow. The robust pooling keeps the null key and the total agent mass of the softmax, and
replaces the weighted mean over agents with a robust location estimate (ByzFL's aggregators):

    norm-clip       each agent's value is clipped to ``clip_multiplier`` times the tree's
                    median value norm, then averaged
    trimmed-mean    per coordinate, the ``trim`` share of attention mass at each end is cut
    median          per coordinate, the weighted median
    centered-clip   Karimireddy et al. 2021: from the median, ``iterations`` steps of the mean
                    of deviations clipped to ``clip_multiplier`` times the median deviation

Every method first caps each agent's attention share at ``share_cap`` times a fair share of its
tree (1 / live agents), since a summary crafted to align with the slot queries can otherwise
take a slot's whole mass, and then a weighted median or trimmed mean is its value.

Shapes: values ``(n, m, H, dh)`` (n agents, m slots, H heads), weights ``(n, m, H)`` summing to
one over the agents of each tree (zero for masked agents, whose values are never read).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from forest.errors import ConfigError
from forest.validation import require_float, require_int

METHODS = ("norm-clip", "trimmed-mean", "median", "centered-clip")


@dataclass(frozen=True)
class RobustAggregation:
    method: str = "trimmed-mean"
    trim: float = 0.2  # trimmed-mean: share of mass cut at each end
    clip_multiplier: float = 2.0  # norm-clip and centered-clip radius, in median norms
    iterations: int = 3  # centered-clip steps
    share_cap: float = 2.0  # most attention an agent may hold, in fair shares; 0 = no cap

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"method: expected one of {', '.join(METHODS)}, got {self.method!r}")
        require_float(self.trim, "trim", 0.0, 0.45)
        require_float(self.clip_multiplier, "clip_multiplier", 0.0, 1e6, low_open=True)
        require_int(self.iterations, "iterations", 1, 100)
        if self.share_cap != 0.0:
            require_float(self.share_cap, "share_cap", 1.0, 1e6)

    def pool(
        self, values: torch.Tensor, weights: torch.Tensor, tree_index: torch.Tensor, n_trees: int
    ) -> torch.Tensor:
        """Robust location of each tree's agent values: ``(G, m, H, dh)``."""
        live = weights.detach().amax(dim=(1, 2)) > 0  # (n,)
        values = torch.where(live[:, None, None, None], values, torch.zeros_like(values))
        if self.share_cap:
            weights = _cap_shares(weights, live, tree_index, n_trees, self.share_cap)
        if self.method == "norm-clip":
            norms = values.norm(dim=-1)  # (n, m, H)
            radius = self.clip_multiplier * _segment_median(norms, weights, tree_index, n_trees)
            scale = torch.clamp(radius[tree_index] / norms.clamp_min(1e-12), max=1.0)
            return _segment_sum(
                weights.unsqueeze(-1) * scale.unsqueeze(-1) * values, tree_index, n_trees
            )
        columns = weights.unsqueeze(-1).expand_as(values)
        if self.method == "trimmed-mean":
            return _trimmed_mean(values, columns, tree_index, n_trees, self.trim)
        center = _segment_median(values, columns, tree_index, n_trees)
        if self.method == "median":
            return center
        for _ in range(self.iterations):
            deviation = values - center[tree_index]  # (n, m, H, dh)
            norms = deviation.norm(dim=-1)
            radius = self.clip_multiplier * _segment_median(norms, weights, tree_index, n_trees)
            scale = torch.clamp(radius[tree_index] / norms.clamp_min(1e-12), max=1.0)
            step = weights.unsqueeze(-1) * scale.unsqueeze(-1) * deviation
            center = center + _segment_sum(step, tree_index, n_trees)
        return center


def _segment_sum(x: torch.Tensor, tree_index: torch.Tensor, n_trees: int) -> torch.Tensor:
    return x.new_zeros((n_trees, *x.shape[1:])).index_add(0, tree_index, x)


def _cap_shares(
    weights: torch.Tensor, live: torch.Tensor, tree_index: torch.Tensor, n_trees: int, cap: float
) -> torch.Tensor:
    """Each agent's share at most ``cap / live agents in its tree``, renormalised per tree."""
    counts = torch.zeros(n_trees, dtype=weights.dtype).index_add(
        0, tree_index, live.to(weights.dtype)
    )
    ceiling = (cap / counts.clamp_min(1.0))[tree_index]  # (n,)
    capped = torch.minimum(weights, ceiling[:, None, None])
    total = _segment_sum(capped, tree_index, n_trees)  # (G, m, H)
    return capped / total.clamp_min(1e-12)[tree_index]


def _sorted_within_trees(
    values: torch.Tensor, weights: torch.Tensor, tree_index: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Values sorted within each tree, column by column (``values``'s shape), each with its
    weight and the cumulative weight of its tree up to and including it, and the tree of each
    sorted row. Sorting is tree-major, so row k holds the same tree in every column."""
    by_value = torch.argsort(values.detach(), dim=0, stable=True)
    trees = tree_index.view(-1, *([1] * (values.dim() - 1))).expand_as(values)
    by_tree = torch.argsort(trees.gather(0, by_value), dim=0, stable=True)
    order = by_value.gather(0, by_tree)
    v, w = values.gather(0, order), weights.gather(0, order)
    row_tree, _ = torch.sort(tree_index)
    first_row = torch.searchsorted(row_tree, row_tree)  # (n,) first row of each row's tree
    before = w.cumsum(dim=0) - w  # weight of every row above, whatever its tree
    return v, w, before - before[first_row] + w, row_tree


def _segment_median(
    values: torch.Tensor, weights: torch.Tensor, tree_index: torch.Tensor, n_trees: int
) -> torch.Tensor:
    """Weighted median per tree and column: the value where the cumulative weight crosses 1/2."""
    v, w, cumulative, row_tree = _sorted_within_trees(values, weights, tree_index)
    crossing = (cumulative - w < 0.5) & (cumulative >= 0.5) & (w > 0)
    return _segment_sum(torch.where(crossing, v, torch.zeros_like(v)), row_tree, n_trees)


def _trimmed_mean(
    values: torch.Tensor,
    weights: torch.Tensor,
    tree_index: torch.Tensor,
    n_trees: int,
    trim: float,
) -> torch.Tensor:
    """Per column, the mean over the weight between the ``trim`` and ``1 - trim`` quantiles."""
    v, w, cumulative, row_tree = _sorted_within_trees(values, weights, tree_index)
    kept = (cumulative.clamp(max=1 - trim) - (cumulative - w).clamp(min=trim)).clamp_min(0.0)
    return _segment_sum(kept * v, row_tree, n_trees) / (1 - 2 * trim)
