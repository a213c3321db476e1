"""What a round costs: analytic FLOPs for ForestModel and DenseForest, and parameter counts.

Every matrix product of an ``(m, k)`` by a ``(k, n)`` matrix counts ``2 m n k`` FLOPs, attention
scores and weighted values included (the convention of ``torch.utils.flop_counter``, which the
tests check these formulas against). Norms, activations, softmax and embedding lookups are left
out: they are O(n d) and vanish beside the matrix products. Nothing here needs the weights, so the
3B-shaped preset is costed on the ``meta`` device.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from forest.model.config import ForestConfig
from forest.model.dense import DenseForest
from forest.model.modeling_forest import ForestModel, ForestPreTrainedModel


@dataclass(frozen=True)
class RoundFlops:
    """FLOPs of one forward round, by step."""

    encoder: int
    aggregation: int
    heads: int

    @property
    def total(self) -> int:
        return self.encoder + self.aggregation + self.heads


def _llama_layer_flops(
    d: int, heads: int, kv_heads: int, intermediate: int, tokens: int, keys_per_query: int
) -> int:
    """One Llama decoder layer of width ``d`` over ``tokens`` positions, each query seeing
    ``keys_per_query`` keys."""
    dh = d // heads
    q_width, kv_width = heads * dh, kv_heads * dh
    projections = 2 * tokens * d * (2 * q_width + 2 * kv_width)  # q, o and k, v
    mlp = 3 * 2 * tokens * d * intermediate  # gate, up, down
    attention = 2 * 2 * heads * tokens * keys_per_query * dh  # QK^T and PV
    return projections + mlp + attention


def _layer_flops(config: ForestConfig, tokens: int, keys_per_query: int) -> int:
    return _llama_layer_flops(
        config.hidden_size,
        config.num_attention_heads,
        config.num_key_value_heads,
        config.intermediate_size,
        tokens,
        keys_per_query,
    )


def prompt_flops(config: ForestConfig, n_agents: int, tokens: int | None = None) -> int:
    """Step (a0) of the pretrained forest (0 for any other): the frozen LM over every agent's
    prompt of ``tokens`` (``max_prompt_tokens`` by default). Causal attention still computes
    every query against every key before masking, as torch counts it. Read by attribute: the
    pretrained config lives in ``forest.pretrained``, which builds on this package."""
    layers = getattr(config, "prompt_num_layers", 0)
    if not layers:
        return 0
    length = config.max_prompt_tokens if tokens is None else tokens
    per_layer = _llama_layer_flops(
        config.prompt_hidden_size,
        config.prompt_num_heads,
        config.prompt_num_kv_heads,
        config.prompt_intermediate_size,
        length,
        length,
    )
    projection = 2 * config.prompt_hidden_size * config.hidden_size * length
    return n_agents * (layers * per_layer + projection)


def encoder_flops(
    config: ForestConfig, n_agents: int, tokens: int | None = None, memory: bool = True
) -> int:
    """Step (a) for ``n_agents`` with ``tokens`` inputs each (``max_agent_tokens`` by default;
    for the pretrained forest, ``tokens`` counts prompt tokens, each one a position of the
    forest's encoder too, and the LM is included)."""
    length = (config.max_agent_tokens if tokens is None else tokens) + 2
    per_agent = config.num_hidden_layers * _layer_flops(config, length, length)
    if memory:
        per_agent += 2 * config.hidden_size * config.hidden_size
    return n_agents * per_agent + prompt_flops(config, n_agents, tokens)


def heads_flops(config: ForestConfig, n_agents: int) -> int:
    """Step (c): trunk, action, message and value heads."""
    d = config.hidden_size
    outputs = config.n_actions + config.message_len * config.message_vocab + 1
    return n_agents * (2 * (2 * d) * d + 2 * d * outputs)


def aggregation_flops(config: ForestConfig, n_agents: int, n_trees: int = 1) -> int:
    """Step (b) of ForestModel: tree slots, forest slots, agents' reads. O(n * (m_t + m_f))."""
    d, m_t, m_f = config.hidden_size, config.tree_slots, config.forest_slots
    n, slots = n_agents, n_trees * config.tree_slots
    tree = 2 * 2 * n * d * d + 2 * m_t * d * d + 2 * 2 * n * m_t * d + 2 * slots * d * d
    forest = 2 * 2 * slots * d * d + 2 * m_f * d * d + 2 * 2 * m_f * slots * d + 2 * m_f * d * d
    read = 2 * 2 * (slots + m_f) * d * d + 2 * 2 * n * d * d + 2 * 2 * n * (m_t + m_f) * d
    return tree + forest + read


def forest_flops(
    config: ForestConfig,
    n_agents: int,
    n_trees: int = 1,
    tokens: int | None = None,
    memory: bool = True,
) -> RoundFlops:
    """One ForestModel round: linear in agents."""
    return RoundFlops(
        encoder_flops(config, n_agents, tokens, memory),
        aggregation_flops(config, n_agents, n_trees),
        heads_flops(config, n_agents),
    )


def dense_flops(
    config: ForestConfig, n_agents: int, tokens: int | None = None, memory: bool = True
) -> RoundFlops:
    """One DenseForest round: the joint layer over all n * (T + 2) positions is quadratic."""
    positions = n_agents * ((config.max_agent_tokens if tokens is None else tokens) + 2)
    return RoundFlops(
        encoder_flops(config, n_agents, tokens, memory),
        _layer_flops(config, positions, positions),
        heads_flops(config, n_agents),
    )


def meta_model(config: ForestConfig, dense: bool = False) -> ForestPreTrainedModel:
    """The model built on the ``meta`` device: shapes without memory, for any preset."""
    with torch.device("meta"):
        return DenseForest(config) if dense else ForestModel(config)


def parameter_counts(model: nn.Module) -> dict[str, int]:
    """Parameters per top-level part (``encoder``, ``aggregator``, ``readout``...) and ``total``."""
    counts: dict[str, int] = {}
    for name, param in model.named_parameters():
        part = name.split(".")[0]
        counts[part] = counts.get(part, 0) + param.numel()
    counts["total"] = sum(counts.values())
    return counts
