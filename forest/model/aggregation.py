"""Step (b): the forest-level compressed attention, hierarchical and O(n * m) in agents.

(i)   Per tree, ``m_t`` learned slots attend over that tree's agent summaries. Trees have any
      size, so the softmax runs per segment (scatter max, index_add sums) in one pass over all
      agents; each slot also has a learned null key, so a tree whose agents are all masked out
      still has a defined (agent-free) state.
(ii)  ``m_f`` forest slots attend over every tree slot.
(iii) Each agent's summary queries its own tree's slots and the forest slots (``m_t + m_f``
      keys) and reads its context.

Aggregation weights in [0, 1] enter stage (i) as log-weights on the agents' keys. Weight 0 is a
hard mask: the agent's score is -inf and its value contribution is replaced by an exact zero, so
nothing it sends (not even NaN) can reach another agent. Stages (ii) and (iii) only see slots, and
trees without a single unmasked agent are left out of stage (ii), so that a masked agent cannot
reach others by choosing its tree id either (the forest slots have a null key of their own for
the case where no tree is left).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from forest.model.config import ForestConfig
from forest.model.norm import StableRMSNorm
from forest.model.robust_aggregation import RobustAggregation


@dataclass
class AggregationAttention:
    """Where the forest's attention went in one round, per head (H); for detectors."""

    # (n,) each agent's tree, numbered 0..G-1 in order of tree id
    tree_index: torch.Tensor
    # (n, m_t, H) share of its tree slots' attention that each agent received
    agent_to_tree_slot: torch.Tensor
    # (G, m_t, H) share that each tree slot left on its null key
    tree_slot_sink: torch.Tensor
    # (m_f, H, G, m_t) share of each forest slot's attention on each tree slot
    forest_slot_to_tree_slot: torch.Tensor
    # (n, H, m_t + m_f) what each agent read: its own tree's slots, then the forest slots
    agent_reads: torch.Tensor


class Projections(nn.Module):
    """Query, key, value and output maps of one multi-head attention (no bias, as in Llama)."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.q_proj = nn.Linear(d, d, bias=False)
        self.k_proj = nn.Linear(d, d, bias=False)
        self.v_proj = nn.Linear(d, d, bias=False)
        self.o_proj = nn.Linear(d, d, bias=False)


class ForestAggregator(nn.Module):
    """Summaries ``(n, d)`` + tree ids + weights -> per-agent context ``(n, d)``."""

    def __init__(self, config: ForestConfig) -> None:
        super().__init__()
        d, h = config.hidden_size, config.num_attention_heads
        self.heads, self.head_dim = h, d // h
        self.scale = 1.0 / math.sqrt(self.head_dim)
        eps = config.rms_norm_eps
        self.summary_norm = StableRMSNorm(d, eps)
        self.tree_slots = nn.Parameter(torch.zeros(config.tree_slots, d))
        self.tree_sink_logit = nn.Parameter(torch.zeros(config.tree_slots, h))
        self.tree_sink_value = nn.Parameter(torch.zeros(config.tree_slots, h, d // h))
        self.tree_attn = Projections(d)
        self.tree_norm = StableRMSNorm(d, eps)
        self.forest_slots = nn.Parameter(torch.zeros(config.forest_slots, d))
        self.forest_sink_logit = nn.Parameter(torch.zeros(config.forest_slots, h))
        self.forest_sink_value = nn.Parameter(torch.zeros(config.forest_slots, h, d // h))
        self.forest_attn = Projections(d)
        self.slot_norm = StableRMSNorm(d, eps)
        self.read_attn = Projections(d)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (self.heads, self.head_dim))  # (..., d) -> (..., H, dh)

    def tree_pool(
        self,
        x: torch.Tensor,
        tree_index: torch.Tensor,
        n_trees: int,
        weights: torch.Tensor,
        robust: RobustAggregation | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(i) ``x (n, d)`` normalised summaries -> tree slot states ``(G, m_t, d)``.

        Also returns each agent's share of its tree slots' attention ``(n, m_t, H)`` and the
        share left on the null keys ``(G, m_t, H)``. With ``robust``, the agents' part of each
        slot is a robust location of their values instead of their weighted mean.
        """
        attn = self.tree_attn
        k, v = self._split(attn.k_proj(x)), self._split(attn.v_proj(x))  # (n, H, dh)
        q = self._split(attn.q_proj(self.tree_slots))  # (m_t, H, dh)
        active = weights > 0  # (n,)
        # log(1) stands in for log(0) before the mask so that gradients stay finite.
        log_w = torch.where(active, weights, torch.ones_like(weights)).log()
        scores = torch.einsum("nhe,mhe->nmh", k, q) * self.scale + log_w[:, None, None]
        scores = scores.masked_fill(~active[:, None, None], -math.inf)  # (n, m_t, H)
        # Segment max for a stable softmax; masked agents (-inf) never move it.
        seg = tree_index[:, None, None].expand_as(scores)
        top = scores.new_full((n_trees, *scores.shape[1:]), -math.inf)
        top = top.scatter_reduce(0, seg, scores.detach(), "amax")
        top = torch.maximum(top, self.tree_sink_logit.detach())  # (G, m_t, H), finite
        e = torch.exp(scores - top[tree_index])  # (n, m_t, H); exactly 0 where masked
        sink = torch.exp(self.tree_sink_logit - top)  # (G, m_t, H)
        denom = sink.index_add(0, tree_index, e)
        sent = (e.unsqueeze(-1) * v.unsqueeze(1)).masked_fill(~active[:, None, None, None], 0.0)
        pooled = (sink.unsqueeze(-1) * self.tree_sink_value).index_add(0, tree_index, sent)
        pooled = pooled / denom.unsqueeze(-1)  # (G, m_t, H, dh)
        if robust is not None:
            agents = e.new_zeros(sink.shape).index_add(0, tree_index, e)  # (G, m_t, H)
            agents = agents.clamp_min(torch.finfo(e.dtype).tiny)
            within = e / agents[tree_index]  # (n, m_t, H): the softmax among the agents
            values = v.unsqueeze(1).expand(-1, within.shape[1], -1, -1)  # (n, m_t, H, dh)
            location = robust.pool(values, within, tree_index, n_trees)
            typical = robust.agent_total(e, active, tree_index, n_trees)
            null_share = sink / (sink + typical)
            pooled = null_share.unsqueeze(-1) * self.tree_sink_value
            pooled = pooled + (1.0 - null_share).unsqueeze(-1) * location
        states = self.tree_slots + attn.o_proj(pooled.flatten(-2))  # (G, m_t, d)
        return states, e / denom[tree_index], sink / denom

    def forest_pool(
        self, tree_states: torch.Tensor, live_trees: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(ii) tree slot states ``(G, m_t, d)`` -> forest slot states ``(m_f, d)`` and weights.

        ``live_trees (G,)`` marks trees with at least one unmasked agent; only those are keys.
        """
        attn = self.forest_attn
        s = self.tree_norm(tree_states).flatten(0, 1)  # (G * m_t, d)
        k, v = self._split(attn.k_proj(s)), self._split(attn.v_proj(s))  # (G * m_t, H, dh)
        q = self._split(attn.q_proj(self.forest_slots))  # (m_f, H, dh)
        scores = torch.einsum("khe,fhe->fhk", k, q) * self.scale  # (m_f, H, G * m_t)
        live = live_trees.repeat_interleave(tree_states.shape[1])  # (G * m_t,)
        scores = scores.masked_fill(~live, -math.inf)
        p = torch.softmax(torch.cat([scores, self.forest_sink_logit.unsqueeze(-1)], -1), dim=-1)
        pooled = torch.einsum("fhk,khe->fhe", p[..., :-1], v)  # (m_f, H, dh)
        pooled = pooled + p[..., -1:] * self.forest_sink_value
        states = self.forest_slots + attn.o_proj(pooled.flatten(-2))  # (m_f, d)
        return states, p[..., :-1].unflatten(-1, tree_states.shape[:2])

    def read(
        self,
        x: torch.Tensor,
        tree_index: torch.Tensor,
        tree_states: torch.Tensor,
        forest_states: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(iii) each agent reads its tree's slots and the forest slots: context ``(n, d)``."""
        attn = self.read_attn
        m_t = tree_states.shape[1]
        t, f = self.slot_norm(tree_states), self.slot_norm(forest_states)
        kt, vt = self._split(attn.k_proj(t)), self._split(attn.v_proj(t))  # (G, m_t, H, dh)
        kf, vf = self._split(attn.k_proj(f)), self._split(attn.v_proj(f))  # (m_f, H, dh)
        kt, vt = kt[tree_index], vt[tree_index]  # (n, m_t, H, dh): this agent's tree only
        q = self._split(attn.q_proj(x))  # (n, H, dh)
        scores = torch.cat(
            [torch.einsum("nhe,nmhe->nhm", q, kt), torch.einsum("nhe,fhe->nhf", q, kf)], dim=-1
        )
        p = torch.softmax(scores * self.scale, dim=-1)  # (n, H, m_t + m_f)
        out = torch.einsum("nhm,nmhe->nhe", p[..., :m_t], vt)
        out = out + torch.einsum("nhf,fhe->nhe", p[..., m_t:], vf)  # (n, H, dh)
        return attn.o_proj(out.flatten(-2)), p

    def forward(
        self,
        summaries: torch.Tensor,
        tree_ids: torch.Tensor,
        weights: torch.Tensor,
        robust: RobustAggregation | None = None,
    ) -> tuple[torch.Tensor, AggregationAttention]:
        """Context ``(n, d)`` for every agent, and where the attention went."""
        tree_ids_sorted, tree_index = torch.unique(tree_ids, sorted=True, return_inverse=True)
        n_trees = tree_ids_sorted.shape[0]
        x = self.summary_norm(summaries)  # (n, d), bounded whatever the summaries' norm
        tree_states, to_agents, to_sink = self.tree_pool(x, tree_index, n_trees, weights, robust)
        live_trees = torch.zeros(n_trees, dtype=torch.bool, device=x.device)
        live_trees[tree_index[weights > 0]] = True
        forest_states, to_trees = self.forest_pool(tree_states, live_trees)
        context, reads = self.read(x, tree_index, tree_states, forest_states)
        return context, AggregationAttention(tree_index, to_agents, to_sink, to_trees, reads)
