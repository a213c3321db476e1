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
    geometric-median  the smoothed Weiszfeld algorithm (Pillutla et al. 2022): ``iterations``
                    steps from 0, distances floored at ``smoothing``, agents weighted by their
                    attention
    krum            Blanchard et al. 2017: the agent whose ``k - f - 1`` nearest others are
                    closest (mean squared distance; ByzFL's count, where the paper has
                    ``k - f - 2``), ``f`` the tree's assumed compromised agents
    multi-krum      the attention-weighted mean of the ``k - f`` agents with the best Krum scores

and, before any method, ``pre_aggregation = "nnm"`` (Allouah et al. 2023's nearest-neighbour
mixing) replaces each agent's value with the attention-weighted mean of its ``k - f`` nearest
agents' (itself included). ``f`` is ``byzantine_share`` of a tree's ``k`` live agents, rounded
down and at most ``(k - 1) // 2``. Vectors are each head's ``dh`` values of a slot. With equal
weights, geometric-median, krum, multi-krum and nnm equal ByzFL's aggregators on the same
vectors, and median and trimmed-mean do on trees of odd size (ByzFL's median of an even count
averages the middle two): tests/forest/model/test_robust_aggregation_byzfl.py.

Every method first caps each agent's attention share at ``share_cap`` times a fair share of its
tree (1 / live agents), the excess spread over the others (water-filling), since a summary
crafted to align with the slot queries can otherwise take a slot's whole mass, and then a
weighted median or trimmed mean is its value. Then any ``k`` agents of a tree of ``K`` hold at
most ``k * share_cap / K`` of it, whatever they send. For the same reason the agents' weight
against the slot's null key is their count times their median softmax term, not the sum
(``agent_total``).

Shapes: values ``(n, m, H, dh)`` (n agents, m slots, H heads), weights ``(n, m, H)`` summing to
one over the agents of each tree (zero for masked agents, whose values are never read).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from forest.errors import ConfigError
from forest.validation import require_float, require_int

METHODS = (
    "norm-clip",
    "trimmed-mean",
    "median",
    "centered-clip",
    "geometric-median",
    "krum",
    "multi-krum",
)
PRE_AGGREGATIONS = ("none", "nnm")


@dataclass(frozen=True)
class RobustAggregation:
    method: str = "trimmed-mean"  # one of METHODS (module docstring)
    trim: float = 0.2  # trimmed-mean: share of mass cut at each end
    clip_multiplier: float = 2.0  # norm-clip and centered-clip radius, in median norms
    iterations: int = 3  # centered-clip and geometric-median steps
    share_cap: float = 2.0  # most attention an agent may hold, in fair shares; 0 = no cap
    smoothing: float = 0.1  # geometric-median: the least distance Weiszfeld divides by
    byzantine_share: float = 0.25  # krum, multi-krum, nnm: f per tree, as a share of its agents
    pre_aggregation: str = "none"  # "nnm": nearest-neighbour mixing before the method

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"method: expected one of {', '.join(METHODS)}, got {self.method!r}")
        if self.pre_aggregation not in PRE_AGGREGATIONS:
            raise ConfigError(
                f"pre_aggregation: expected one of {', '.join(PRE_AGGREGATIONS)}, "
                f"got {self.pre_aggregation!r}"
            )
        require_float(self.smoothing, "smoothing", 0.0, 1e6, low_open=True)
        require_float(self.byzantine_share, "byzantine_share", 0.0, 0.5)
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
        trees = (
            _live_rows_by_tree(tree_index, live, n_trees)
            if self.pre_aggregation == "nnm" or self.method in ("krum", "multi-krum")
            else []
        )
        if self.pre_aggregation == "nnm":
            values = _nearest_neighbour_mixing(values, weights, trees, self.byzantine_share)
        if self.method == "geometric-median":
            return _geometric_median(
                values, weights, tree_index, n_trees, self.smoothing, self.iterations
            )
        if self.method in ("krum", "multi-krum"):
            select = _krum if self.method == "krum" else _multi_krum
            return _per_tree(values, weights, trees, self.byzantine_share, select)
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

    def agent_total(
        self, terms: torch.Tensor, live: torch.Tensor, tree_index: torch.Tensor, n_trees: int
    ) -> torch.Tensor:
        """What a tree's agents weigh against its slots' null keys: live agents times their
        median softmax term ``(G, m, H)`` (the lower median, by rank), where attention uses
        their sum. A summary that takes a slot's whole softmax would otherwise push the null
        key out (or, scoring low, hand it the slot), whatever pooling the values get. Without
        a share cap (``share_cap = 0``) it is the plain sum, as in attention."""
        if not self.share_cap:
            return _segment_sum(terms, tree_index, n_trees)
        rows = torch.where(live[:, None, None], terms, torch.full_like(terms, torch.nan))
        ones = torch.ones_like(terms)
        v, _, _, row_tree = _sorted_within_trees(rows, ones, tree_index)
        counts = torch.bincount(tree_index[live], minlength=n_trees)  # (G,)
        first = torch.searchsorted(row_tree, row_tree)
        rank = torch.arange(terms.shape[0], device=terms.device) - first
        median_rank = (counts - 1).clamp_min(0) // 2
        chosen = (rank == median_rank[row_tree]) & (counts[row_tree] > 0)
        picked = torch.where(chosen[:, None, None], v, torch.zeros_like(v))
        return counts.to(terms.dtype)[:, None, None] * _segment_sum(picked, row_tree, n_trees)


def _segment_sum(x: torch.Tensor, tree_index: torch.Tensor, n_trees: int) -> torch.Tensor:
    return x.new_zeros((n_trees, *x.shape[1:])).index_add(0, tree_index, x)


def _cap_shares(
    weights: torch.Tensor, live: torch.Tensor, tree_index: torch.Tensor, n_trees: int, cap: float
) -> torch.Tensor:
    """Each agent's share at most ``cap / live agents in its tree``, the shares still summing to
    one: the capped agents' excess goes to the others in proportion to their weights, and again
    while that lifts another over the cap (water-filling; at most one round per agent).

    Capping and then renormalising would not do: a summary that takes almost all of a slot's
    softmax shrinks every other agent's weight, the cap trims only its own, and after
    renormalising it held 96% of a 19-agent tree's slot in the shipped forest (the certificate
    in ``defenses.certification`` has no bound without this)."""
    counts = torch.zeros(n_trees, dtype=weights.dtype).index_add(
        0, tree_index, live.to(weights.dtype)
    )
    ceiling = (cap / counts.clamp_min(1.0))[tree_index][:, None, None].expand_as(weights)
    capped = torch.zeros_like(weights, dtype=torch.bool)
    shares = weights
    for _ in range(int(counts.max()) if n_trees else 0):
        newly = (shares > ceiling) & ~capped
        if not bool(newly.any()):
            break
        capped = capped | newly
        held = _segment_sum(torch.where(capped, ceiling, torch.zeros_like(weights)), tree_index,
                            n_trees)  # fmt: skip
        free = _segment_sum(torch.where(capped, torch.zeros_like(weights), weights), tree_index,
                            n_trees)  # fmt: skip
        scale = (1.0 - held).clamp_min(0.0) / free.clamp_min(torch.finfo(weights.dtype).tiny)
        shares = torch.where(capped, ceiling, weights * scale[tree_index])
    return shares


def _sorted_within_trees(
    values: torch.Tensor, weights: torch.Tensor, tree_index: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Values sorted within each tree, column by column (``values``'s shape), each with its
    weight and the cumulative weight of its tree up to and including it, and the tree of each
    sorted row. Sorting is tree-major, so row k holds the same tree in every column; ties keep
    the agents' order (and NaN, which no finite forest passes, sorts last in its tree).

    Each tree is sorted on its own, in a (columns, trees, largest tree) block padded with NaN
    (after every value, its own NaNs included, since the sort is stable): many short sorts
    instead of one over all agents per column, and the same order as sorting all agents by
    value and then, stably, by tree. Where trees are so uneven that the block would be much
    larger than the agents, that is what it does instead."""
    n, columns = values.shape[0], values.shape[1:]
    by_tree = torch.argsort(tree_index, stable=True)  # (n,) agents grouped by tree, in order
    row_tree = tree_index[by_tree]
    first_row = torch.searchsorted(row_tree, row_tree)  # (n,) first row of each row's tree
    slot = torch.arange(n, device=values.device) - first_row  # place within its tree
    n_trees = int(row_tree[-1]) + 1 if n else 0
    largest = int(slot.max()) + 1 if n else 0
    if n == 0 or n_trees * largest > 4 * n:  # no agents, or lopsided: two sorts over all
        by_value = torch.argsort(values.detach(), dim=0, stable=True)
        trees = tree_index.view(-1, *([1] * len(columns))).expand_as(values)
        order = by_value.gather(0, torch.argsort(trees.gather(0, by_value), dim=0, stable=True))
    else:
        flat = values.detach()[by_tree].reshape(n, -1).T  # (columns, n)
        block = flat.new_full((flat.shape[0], n_trees, largest), torch.nan)
        block[:, row_tree, slot] = flat
        within = torch.argsort(block, dim=-1, stable=True)[:, row_tree, slot]  # (columns, n)
        order = by_tree[first_row + within].T.reshape(n, *columns)
    v, w = values.gather(0, order), weights.gather(0, order)
    # One running sum over every tree, in float64: in float32 the last of hundreds of trees
    # would carry the rounding of all the others into its cumulative weights.
    wide = w.double()
    before = wide.cumsum(dim=0) - wide  # weight of every row above, whatever its tree
    return v, w, (before - before[first_row] + wide).to(w.dtype), row_tree


def _segment_median(
    values: torch.Tensor, weights: torch.Tensor, tree_index: torch.Tensor, n_trees: int
) -> torch.Tensor:
    """Weighted median per tree and column: the first value (in order) whose cumulative weight
    reaches 1/2, exactly one row per tree. Testing each row for a crossing would not do: where
    capped shares sum to exactly 1/2, rounding can leave no row crossing (a median of 0) or two
    (their sum). A tree with no weight at all has median 0."""
    v, w, cumulative, row_tree = _sorted_within_trees(values, weights, tree_index)
    sizes = torch.bincount(row_tree, minlength=n_trees)  # (G,)
    starts = sizes.cumsum(0) - sizes  # each tree's first sorted row
    shape = (n_trees, *([1] * (v.dim() - 1)))
    below = _segment_sum((cumulative < 0.5).to(v.dtype), row_tree, n_trees).long()
    rank = torch.minimum(below, (sizes - 1).clamp_min(0).view(shape))
    weighed = _segment_sum(w, row_tree, n_trees) > 0
    if v.shape[0] == 0:
        return torch.zeros_like(weighed, dtype=v.dtype)
    median = v.gather(0, (starts.view(shape) + rank).clamp(max=v.shape[0] - 1))
    return torch.where(weighed, median, torch.zeros_like(median))


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


def _geometric_median(
    values: torch.Tensor,
    weights: torch.Tensor,
    tree_index: torch.Tensor,
    n_trees: int,
    smoothing: float,
    iterations: int,
) -> torch.Tensor:
    """Smoothed Weiszfeld per tree and column (a head's vector), agents weighted by attention."""
    w = weights.unsqueeze(-1)  # (n, m, H, 1)
    z = values.new_zeros((n_trees, *values.shape[1:]))
    for _ in range(iterations):
        distance = (values - z[tree_index]).norm(dim=-1, keepdim=True).clamp_min(smoothing)
        coef = w / distance
        total = _segment_sum(coef, tree_index, n_trees).clamp_min(torch.finfo(values.dtype).tiny)
        z = _segment_sum(coef * values, tree_index, n_trees) / total
    return z


def _tolerated(k: int, byzantine_share: float) -> int:
    """``f`` of a tree of ``k`` live agents: the share rounded down, below half the tree (the
    epsilon keeps a product such as 0.29 * 100 from rounding down to 28)."""
    return min(int(byzantine_share * k + 1e-9), (k - 1) // 2)


def _live_rows_by_tree(
    tree_index: torch.Tensor, live: torch.Tensor, n_trees: int
) -> list[torch.Tensor]:
    """Each tree's live agents (row indices), from one sort rather than a scan per tree."""
    rows = torch.nonzero(live).flatten()
    trees = tree_index[rows]
    order = torch.argsort(trees, stable=True)
    counts = torch.bincount(trees, minlength=n_trees)
    return list(torch.split(rows[order], counts.tolist()))


def _columns(x: torch.Tensor) -> torch.Tensor:
    """A tree's ``(k, m, H, ...)`` as one problem per slot and head: ``(m * H, k, ...)``."""
    k, m, h = x.shape[:3]
    return x.reshape(k, m * h, *x.shape[3:]).transpose(0, 1)


def _squared_distances(x: torch.Tensor) -> torch.Tensor:
    """(B, k, dh) -> (B, k, k); exact differences, not the matmul shortcut of ``cdist``."""
    return ((x[:, :, None, :] - x[:, None, :, :]) ** 2).sum(dim=-1)


def _krum_scores(x: torch.Tensor, f: int) -> torch.Tensor:
    """(B, k): mean squared distance to the ``k - f - 1`` nearest others."""
    k = x.shape[1]
    nearest = torch.sort(_squared_distances(x), dim=2).values[:, :, 1 : k - f]
    return nearest.mean(dim=2) if k > 1 else x.new_zeros(x.shape[:2])


def _krum(x: torch.Tensor, w: torch.Tensor, f: int) -> torch.Tensor:
    best = _krum_scores(x, f).argmin(dim=1)  # (B,)
    return x[torch.arange(x.shape[0]), best]


def _multi_krum(x: torch.Tensor, w: torch.Tensor, f: int) -> torch.Tensor:
    kept = torch.argsort(_krum_scores(x, f), dim=1, stable=True)[:, : x.shape[1] - f]
    return _weighted_mean(x, w, kept)


def _weighted_mean(x: torch.Tensor, w: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """(B, ..., dh): the weighted mean of ``x`` (B, k, dh) over ``rows`` (B, ..., r)."""
    batch = torch.arange(x.shape[0]).view(-1, *([1] * (rows.dim() - 1)))
    xs, ws = x[batch, rows], w[batch, rows]  # (B, ..., r, dh), (B, ..., r)
    total = ws.sum(dim=-1, keepdim=True).clamp_min(torch.finfo(x.dtype).tiny)
    return (ws.unsqueeze(-1) * xs).sum(dim=-2) / total


def _per_tree(
    values: torch.Tensor,
    weights: torch.Tensor,
    trees: list[torch.Tensor],
    byzantine_share: float,
    select: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor],
) -> torch.Tensor:
    """``select`` on each tree's live agents, slot by slot and head by head: ``(G, m, H, dh)``."""
    _, m, h, dh = values.shape
    pooled = []
    for rows in trees:
        if rows.numel() == 0:
            pooled.append(values.new_zeros((m, h, dh)))
            continue
        f = _tolerated(rows.numel(), byzantine_share)
        chosen = select(_columns(values[rows]), _columns(weights[rows]), f)  # (m * H, dh)
        pooled.append(chosen.reshape(m, h, dh))
    return torch.stack(pooled)


def _nearest_neighbour_mixing(
    values: torch.Tensor, weights: torch.Tensor, trees: list[torch.Tensor], byzantine_share: float
) -> torch.Tensor:
    """Each live agent's value replaced by the weighted mean of its ``k - f`` nearest in its
    tree (itself included); masked agents keep their (zeroed, unread) values."""
    mixed = values
    for rows in trees:
        k = rows.numel()
        if k == 0:
            continue
        x, w = _columns(values[rows]), _columns(weights[rows])  # (B, k, dh), (B, k)
        nearest = torch.argsort(_squared_distances(x), dim=2, stable=True)
        nearest = nearest[:, :, : k - _tolerated(k, byzantine_share)]  # (B, k, k - f)
        out = _weighted_mean(x, w, nearest)  # (B, k, dh)
        m, h = values.shape[1:3]
        mixed = mixed.index_put((rows,), out.transpose(0, 1).reshape(k, m, h, -1))
    return mixed
