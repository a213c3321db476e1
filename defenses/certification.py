"""Certified decisions: which agents' actions no k compromised agents per tree can change.

Under robust pooling (median or trimmed mean, with its share cap) a compromised agent can move
its tree's slots only so far, whatever summary it sends. ``certify`` bounds how far, for every
choice of at most ``k`` compromised agents in every tree and every summary they may send (of any
norm: the forest normalises summaries before pooling, so an RMS-normalised summary ``x = w * u``
has ``|u| <= sqrt(d)``), then carries those bounds through the forest slots, each agent's read
and the heads by interval bound propagation (``defenses.interval_bounds``). An agent's decision is
certified when its chosen class's lowest possible logit beats every other valid class's highest.

Scope, stated so that the guarantee is not read as more: one round; the honest agents' own
summaries as given (their tokens and memory untouched: a poisoned message or last round's
memory is a different threat); every agent live (aggregation weight 1: no quarantine mask); no
sybils. The bound on a tree's pooled value holds for any ``k`` of its agents, so an agent can be
certified without knowing who is compromised, itself included in its tree's pooling.

Tree slots (stage (i)). For any ``k`` compromised agents of a tree of ``K``:
- the share cap (water-filling: ``forest/model/robust_aggregation.py``) gives every agent
  ``min(c, tau * e)``, ``c = cap / K``, for one level ``tau``; the honest agents are any ``K - k``
  and their mass lies in ``[1 - mu, 1]``, which brackets ``tau``, hence each honest weight in
  ``[r_min, r_max]`` and the compromised mass ``mu <= k * c``. Each compromised softmax term is
  at most ``exp(sqrt(d) |w * W_k^T q| / sqrt(dh))`` (Cauchy-Schwarz on the normalised summary);
- a weighted quantile at level ``t`` then lies between the honest values where the most (least)
  honest mass that can sit below them, plus (minus) ``mu``, reaches ``t``; a median is the
  quantile at 1/2, a trimmed mean the quantile function's mean over ``[trim, 1 - trim]``;
- the slot's null key weighs against ``K`` times the agents' median softmax term
  (``RobustAggregation.agent_total``), which ``k`` compromised agents move by at most ``k``
  ranks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from defenses import interval_bounds as ibp
from defenses.interval_bounds import Box
from forest.errors import ConfigError
from forest.model import ForestModel
from forest.model.robust_aggregation import RobustAggregation

CERTIFIABLE = ("median", "trimmed-mean")
# A certified margin must clear the float32 forest's own rounding: bounds are float64, the
# decisions they vouch for are not.
MARGIN_FLOOR = 1e-4
# Cumulative weights are compared with a quantile's level with this much room on the safe side:
# the forest sums them in float32, over trees of up to hundreds of agents.
LEVEL_SLACK = 1e-5


@dataclass(frozen=True)
class Certificate:
    """Per agent: the clean decision, whether it is certified, and its margin (the chosen
    class's lowest logit minus the highest of any other valid class; certified above
    ``MARGIN_FLOOR``). ``radius`` is how far, in classes, the decision can be moved: the
    farthest valid class whose logit may reach the chosen one's (0 where certified; the action
    classes are ordinal, an order quantity or a price in units). ``context`` is the box every
    agent's forest context stays in."""

    k: int
    chosen: np.ndarray  # (n,) the clean forest's class
    margin: np.ndarray  # (n,)
    radius: np.ndarray  # (n,) in classes
    context: Box  # (n, d) each

    @property
    def certified(self) -> np.ndarray:
        return self.margin > MARGIN_FLOOR

    @property
    def share(self) -> float:
        return float(self.certified.mean()) if self.margin.size else float("nan")


def certifiable(pooling: RobustAggregation | None) -> bool:
    """Whether ``certify`` has a bound for this pooling."""
    return (
        pooling is not None
        and pooling.method in CERTIFIABLE
        and pooling.pre_aggregation == "none"
        and bool(pooling.share_cap)
    )


@torch.no_grad()
def certify(
    model: ForestModel,
    summaries: torch.Tensor,
    tree_ids: torch.Tensor,
    pooling: RobustAggregation,
    k: int,
    valid_classes: torch.Tensor | None = None,
    exposed_trees: torch.Tensor | None = None,
) -> Certificate:
    """Certify every agent's action against ``k`` compromised agents per tree (see the module).

    ``summaries (n, d)`` are this round's encoded summaries, ``tree_ids (n,)`` the agents' trees,
    ``pooling`` the deployed robust pooling and ``valid_classes (n,)`` how many leading action
    classes each agent may choose (all by default), as the policy decodes them;
    ``exposed_trees`` the tree ids that may hold compromised agents (every tree by default)."""
    if not certifiable(pooling):
        raise ConfigError(
            f"certify: pooling must be one of {', '.join(CERTIFIABLE)}, with a share cap and "
            f"without pre-aggregation (a bound exists for those); got {pooling.method!r}, "
            f"share_cap {pooling.share_cap}, pre_aggregation {pooling.pre_aggregation!r}"
        )
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ConfigError(f"k: expected an integer >= 0, got {k!r}")
    aggregator = model.aggregator
    x = aggregator.summary_norm(summaries.double()).double()
    ids, tree_index = torch.unique(tree_ids, sorted=True, return_inverse=True)
    exposed = torch.ones_like(ids, dtype=torch.bool)
    if exposed_trees is not None:
        exposed = torch.isin(ids, torch.as_tensor(exposed_trees, dtype=ids.dtype))
    tree_states = _tree_slot_bounds(model, x, tree_index, k * exposed.long(), pooling)
    forest_states = _forest_slot_bounds(model, tree_states)
    context = _read_bounds(model, x, tree_index, tree_states, forest_states)
    n_classes = model.readout.action_head.out_features
    allowed = (
        torch.ones((x.shape[0], n_classes), dtype=torch.bool)
        if valid_classes is None
        else torch.arange(n_classes)[None, :] < valid_classes[:, None]
    )
    # The decision to certify is the deployed forest's own, computed as it computes it.
    clean = model.aggregate(summaries, tree_ids, robust_aggregation=pooling)
    logits = model.heads(summaries, clean)[0]
    chosen = logits.masked_fill(~allowed, -math.inf).argmax(-1)
    margin, radius = _action_margins(model, summaries.double(), context, chosen, allowed)
    return Certificate(k, chosen.numpy(), margin.numpy(), radius.numpy(), context)


def _split(aggregator: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    return x.unflatten(-1, (aggregator.heads, aggregator.head_dim))


def _ball_reach(matrix: torch.Tensor, norm_weight: torch.Tensor) -> torch.Tensor:
    """Largest ``|a . x|`` over normalised summaries ``x = w * u``, ``|u| <= sqrt(d)``, for each
    row ``a`` of ``matrix``."""
    return math.sqrt(matrix.shape[-1]) * (matrix * norm_weight).norm(dim=-1)


def _tree_slot_bounds(
    model: ForestModel,
    x: torch.Tensor,
    tree_index: torch.Tensor,
    k: torch.Tensor,
    pooling: RobustAggregation,
) -> Box:
    """Stage (i): a box on every tree slot's state ``(G, m_t, d)``, tree ``g`` holding at most
    ``k[g]`` compromised agents."""
    n_trees = k.shape[0]
    agg = model.aggregator
    attn = agg.tree_attn
    w_k, w_v = attn.k_proj.weight.double(), attn.v_proj.weight.double()
    gamma = agg.summary_norm.weight.double()
    keys, values = _split(agg, x @ w_k.T), _split(agg, x @ w_v.T)  # (n, H, dh)
    queries = _split(agg, agg.tree_slots.double() @ attn.q_proj.weight.double().T)  # (m, H, dh)
    scores = torch.einsum("nhe,mhe->nmh", keys, queries) * agg.scale  # (n, m, H)
    # What a compromised agent can score on each slot, and send on each coordinate.
    probe = torch.einsum("mhe,hed->mhd", queries, _split(agg, w_k.T).permute(1, 2, 0))
    reach = _ball_reach(probe, gamma) * agg.scale  # (m, H)
    value_reach = _split(agg, _ball_reach(w_v, gamma))  # (H, dh)
    sink_logit = agg.tree_sink_logit.double()
    sink_value = agg.tree_sink_value.double()  # (m, H, dh)
    low = torch.empty((n_trees, *sink_value.shape), dtype=torch.float64)
    high = torch.empty_like(low)
    for g in range(n_trees):
        rows = torch.nonzero(tree_index == g).flatten()
        bounds = _one_tree(scores[rows], values[rows], reach, value_reach, sink_logit,
                           sink_value, pooling, min(int(k[g]), rows.numel()))  # fmt: skip
        low[g], high[g] = bounds
    pooled: Box = (low.flatten(-2), high.flatten(-2))
    lo, hi = ibp.linear(pooled, attn.o_proj)
    slots = agg.tree_slots.double()
    return slots + lo, slots + hi


def _one_tree(
    scores: torch.Tensor,
    values: torch.Tensor,
    reach: torch.Tensor,
    value_reach: torch.Tensor,
    sink_logit: torch.Tensor,
    sink_value: torch.Tensor,
    pooling: RobustAggregation,
    k: int,
) -> Box:
    """One tree of ``K`` agents: scores ``(K, m, H)``, values ``(K, H, dh)`` -> pooled
    ``(m, H, dh)`` box, for any ``k`` of its agents compromised."""
    K = scores.shape[0]
    top = torch.maximum(scores.amax(0), torch.maximum(reach, sink_logit))  # (m, H)
    e = torch.exp(scores - top)  # (K, m, H)
    e_c_low, e_c_high = torch.exp(-reach - top), torch.exp(reach - top)
    sink = torch.exp(sink_logit - top)
    ordered = torch.sort(e, dim=0).values
    # The water-filling cap gives every agent ``min(c, tau * e)`` for one level ``tau`` per
    # column; honest mass lies in [1 - mu, 1], and the honest agents are any K - k of the K.
    c = pooling.share_cap / K
    tau_high = _water_level(ordered[: K - k], c, torch.ones_like(sink))[1]
    mu = torch.clamp(k * torch.clamp(tau_high * e_c_high, max=c), max=1.0)
    tau_low = _water_level(ordered[k:], c, 1.0 - mu)[0]
    r_min = torch.clamp(tau_low * e, max=c)  # (K, m, H)
    r_max = torch.clamp(tau_high * e, max=c)
    quantiles = _QuantileBounds(values, r_min, r_max, mu, value_reach, k)
    if pooling.method == "median":
        location = (quantiles.low_at(0.5), quantiles.high_at(0.5))
    else:
        kept = 1 - 2 * pooling.trim
        location = tuple(q / kept for q in quantiles.integral(pooling.trim, 1 - pooling.trim))
    # The null key weighs against K times the agents' lower median term (by rank): k
    # compromised agents move that median by at most k ranks.
    middle = (K - 1) // 2
    typical_low = ordered[middle - k] if middle - k >= 0 else torch.minimum(e_c_low, ordered[0])
    typical_high = (
        ordered[middle + k] if middle + k < K else torch.maximum(e_c_high, ordered[K - 1])
    )
    a_low = (sink / (sink + K * typical_high)).unsqueeze(-1)  # (m, H, 1): the null key's share
    a_high = (sink / (sink + K * typical_low)).unsqueeze(-1)
    corners = torch.stack(
        [a * sink_value + (1 - a) * loc for a in (a_low, a_high) for loc in location]
    )
    return corners.amin(0), corners.amax(0)


class _QuantileBounds:
    """Two step functions of the level ``t`` that enclose a tree's weighted quantile function
    ``Q(t)`` for every compromised choice, per column (slot, head, coordinate).

    Lower: the compromised mass ``mu`` at the bottom of the value box, then the agents in value
    order, each as heavy as it can be (``r_max``). Upper: the agents in value order, each as
    light as it can be (``r_min``), less the ``k`` heaviest of those (they may be compromised),
    and the top of the box beyond. A median is ``Q(1/2)``; a trimmed mean is ``Q``'s mean over
    ``[trim, 1 - trim]``, which is how the forest computes it (the mass kept per agent).
    """

    def __init__(
        self,
        values: torch.Tensor,
        r_min: torch.Tensor,
        r_max: torch.Tensor,
        mu: torch.Tensor,
        value_reach: torch.Tensor,
        k: int,
    ) -> None:
        m = r_min.shape[1]
        v = values.permute(1, 2, 0).unsqueeze(0).expand(m, -1, -1, -1)  # (m, H, dh, K)
        light = r_min.permute(1, 2, 0).unsqueeze(2).expand_as(v)
        heavy = r_max.permute(1, 2, 0).unsqueeze(2).expand_as(v)
        self.mu = mu.unsqueeze(-1).unsqueeze(-1).expand(*v.shape[:3], 1)
        self.lowest = torch.minimum(v.amin(-1, keepdim=True), -value_reach.unsqueeze(-1))
        self.highest = torch.maximum(v.amax(-1, keepdim=True), value_reach.unsqueeze(-1))
        order = torch.argsort(v, dim=-1)
        self.v = v.gather(-1, order)
        heavy = heavy.gather(-1, order)
        light = light.gather(-1, order)
        self.low_end = self.mu + heavy.cumsum(-1)  # each sorted agent's segment ends here
        self.low_start = self.low_end - heavy
        self.high_end = light.cumsum(-1) - k * light.amax(-1, keepdim=True)
        self.high_start = self.high_end - light

    def low_at(self, level: float) -> torch.Tensor:
        reached = self.low_end >= level - LEVEL_SLACK
        at_bottom = self.mu >= level - LEVEL_SLACK
        return _first(self.v, reached, self.lowest, at_bottom)

    def high_at(self, level: float) -> torch.Tensor:
        reached = self.high_end >= level + LEVEL_SLACK
        return _first(self.v, reached, self.highest, torch.zeros_like(reached[..., :1]))

    def integral(self, a: float, b: float) -> Box:
        """Bounds on the integral of ``Q`` over ``[a, b]``; levels no segment covers take the
        box's edge on the safe side."""

        def covered(start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
            return (torch.clamp(end, max=b) - torch.clamp(start, min=a)).clamp_min(0.0)

        low_parts = covered(self.low_start, self.low_end)
        bottom = covered(torch.zeros_like(self.mu), self.mu).squeeze(-1)
        low_rest = (b - a) - low_parts.sum(-1) - bottom
        low = (low_parts * self.v).sum(-1) + (bottom + low_rest.clamp_min(0.0)) * self.lowest[
            ..., 0
        ]
        high_parts = covered(self.high_start, self.high_end)
        high_rest = ((b - a) - high_parts.sum(-1)).clamp_min(0.0)
        high = (high_parts * self.v).sum(-1) + high_rest * self.highest[..., 0]
        return low, high


def _water_level(e: torch.Tensor, c: float, target: torch.Tensor) -> Box:
    """A bracket ``(low, high)`` on the ``tau`` where ``sum(min(c, tau * e))`` over ``e``'s first
    dimension reaches ``target``, per column: ``low`` falls short, ``high`` reaches it (inf where
    nothing can; 0 and 0 where the target is not positive). Bisection on log tau."""
    if e.shape[0] == 0:
        unreachable = torch.full_like(target, math.inf)
        return torch.where(target > 0, unreachable, 0.0), torch.where(target > 0, unreachable, 0.0)
    log_e = e.log()
    low = target.clamp_min(1e-300).log() - torch.logsumexp(log_e, 0) - 1.0
    high = math.log(c) - log_e.amin(0) + 1.0
    for _ in range(64):
        middle = (low + high) / 2
        reached = torch.clamp(torch.exp(middle + log_e), max=c).sum(0) >= target
        high, low = torch.where(reached, middle, high), torch.where(reached, low, middle)
    reachable = e.shape[0] * c >= target
    tau_low = torch.where(target > 0, torch.exp(low), 0.0)
    tau_high = torch.where(reachable, torch.exp(high), math.inf)
    return tau_low, torch.where(target > 0, tau_high, 0.0)


def _first(
    v_sorted: torch.Tensor, reached: torch.Tensor, fallback: torch.Tensor, at_edge: torch.Tensor
) -> torch.Tensor:
    """The first sorted value where ``reached`` holds; ``fallback`` (the box's edge) where it
    never does or where ``at_edge`` holds."""
    index = torch.argmax(reached.to(torch.int8), dim=-1, keepdim=True)
    use_edge = at_edge | ~reached.any(-1, keepdim=True)
    return torch.where(use_edge, fallback, v_sorted.gather(-1, index)).squeeze(-1)


def _forest_slot_bounds(model: ForestModel, tree_states: Box) -> Box:
    """Stage (ii): forest slots attend over every (uncertain) tree slot and their null key."""
    agg = model.aggregator
    attn = agg.forest_attn
    s = ibp.rms_norm(tree_states, agg.tree_norm)
    s = (s[0].flatten(0, 1), s[1].flatten(0, 1))  # (G * m_t, d)
    keys = tuple(_split(agg, t) for t in ibp.linear(s, attn.k_proj))  # (K, H, dh)
    values = tuple(_split(agg, t) for t in ibp.linear(s, attn.v_proj))
    queries = _split(agg, agg.forest_slots.double() @ attn.q_proj.weight.double().T)
    scores = ibp.dot(keys, queries * agg.scale, "khe,fhe->fhk")  # (m_f, H, K)
    sink = agg.forest_sink_logit.double().unsqueeze(-1)
    weights = ibp.softmax_weights(
        (torch.cat([scores[0], sink], -1), torch.cat([scores[1], sink], -1))
    )  # (m_f, H, K + 1)
    sink_value = agg.forest_sink_value.double()  # (m_f, H, dh)
    # Values per column (m_f, H, dh) along the keys, the null key last.
    stacked = tuple(
        torch.cat(
            [
                v.permute(1, 2, 0).unsqueeze(0).expand(sink_value.shape[0], -1, -1, -1),
                sink_value.unsqueeze(-1),
            ],
            -1,
        )
        for v in values
    )
    p = tuple(w.unsqueeze(2) for w in weights)  # (m_f, H, 1, K + 1)
    pooled = ibp.convex_combination(p, stacked)  # (m_f, H, dh)
    lo, hi = ibp.linear((pooled[0].flatten(-2), pooled[1].flatten(-2)), attn.o_proj)
    slots = agg.forest_slots.double()
    return slots + lo, slots + hi


def _read_bounds(
    model: ForestModel, x: torch.Tensor, tree_index: torch.Tensor, tree_states: Box,
    forest_states: Box,
) -> Box:  # fmt: skip
    """Stage (iii): each agent's (exact) query reads its tree's and the forest's slot boxes."""
    agg = model.aggregator
    attn = agg.read_attn
    t = ibp.rms_norm(tree_states, agg.slot_norm)  # (G, m_t, d)
    f = ibp.rms_norm(forest_states, agg.slot_norm)  # (m_f, d)
    kt = tuple(_split(agg, b)[tree_index] for b in ibp.linear(t, attn.k_proj))  # (n,m_t,H,dh)
    vt = tuple(_split(agg, b)[tree_index] for b in ibp.linear(t, attn.v_proj))
    kf = tuple(_split(agg, b) for b in ibp.linear(f, attn.k_proj))  # (m_f, H, dh)
    vf = tuple(_split(agg, b) for b in ibp.linear(f, attn.v_proj))
    q = _split(agg, x @ attn.q_proj.weight.double().T) * agg.scale  # (n, H, dh)
    tree_scores = ibp.dot(kt, q, "nmhe,nhe->nhm")
    forest_scores = ibp.dot(kf, q, "fhe,nhe->nhf")
    scores = tuple(torch.cat([a, b], -1) for a, b in zip(tree_scores, forest_scores, strict=True))
    weights = tuple(w.unsqueeze(2) for w in ibp.softmax_weights(scores))  # (n, H, 1, m_t+m_f)
    n = x.shape[0]
    values = tuple(
        torch.cat(
            [a.permute(0, 2, 3, 1), b.permute(1, 2, 0).unsqueeze(0).expand(n, -1, -1, -1)], -1
        )
        for a, b in zip(vt, vf, strict=True)
    )  # (n, H, dh, m_t + m_f)
    read = ibp.convex_combination(weights, values)  # (n, H, dh)
    return ibp.linear((read[0].flatten(-2), read[1].flatten(-2)), attn.o_proj)


def _action_margins(
    model: ForestModel,
    summaries: torch.Tensor,
    context: Box,
    chosen: torch.Tensor,
    allowed: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The lowest each agent's chosen logit can sit above any other allowed class's, and the
    farthest allowed class (in classes from the chosen one) that may reach it."""
    heads = model.readout
    own = heads.summary_norm(summaries).double()
    read = ibp.rms_norm(context, heads.context_norm)
    both = (torch.cat([own, read[0]], -1), torch.cat([own, read[1]], -1))
    h = ibp.silu(ibp.linear(both, heads.trunk[0]))  # (n, d)
    weight = heads.action_head.weight.double()  # (C, d)
    bias = heads.action_head.bias.double()
    centre, half_width = (h[0] + h[1]) / 2, (h[1] - h[0]) / 2
    margin = torch.full((h[0].shape[0],), math.inf, dtype=torch.float64)
    radius = torch.zeros(h[0].shape[0], dtype=torch.long)
    classes = torch.arange(weight.shape[0])
    # The chosen-minus-other difference is one linear map per chosen class: its bound is
    # tighter than the two logits' bounds apart.
    for cls in torch.unique(chosen).tolist():
        rows = torch.nonzero(chosen == cls).flatten()
        gap = weight[cls] - weight  # (C, d)
        low = centre[rows] @ gap.T - half_width[rows] @ gap.abs().T + (bias[cls] - bias)
        low = low.masked_fill(~allowed[rows], math.inf)
        low[:, cls] = math.inf
        margin[rows] = low.amin(-1)
        distance = torch.where(low <= MARGIN_FLOOR, (classes - cls).abs(), 0)
        radius[rows] = distance.amax(-1)
    return margin, radius
