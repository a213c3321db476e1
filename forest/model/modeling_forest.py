"""The Thousand-Token Forest: one small transformer serving n agents per round, O(n) in agents.

Method (n agents, T tokens each, hidden size d, m_t tree slots, m_f forest slots):

(a) ``encode``: every agent's ``[memory] x_1..x_T [summary]`` goes through a shared stack of Llama
    decoder layers, bidirectional within the agent, in chunks of agents. The summary position's
    final state is the agent's summary token, ``(n, d)``.
(b) ``aggregate``: hierarchical compressed attention. Tree slots attend over their tree's
    summaries, forest slots over all tree slots, and each agent reads its tree's slots plus the
    forest slots: ``(n, d)`` context at O(n * (m_t + m_f) * d) cost.
(c) ``heads``: action logits ``(n, n_actions)``, message logits ``(n, message_len,
    message_vocab)`` and a scalar value from the summary and the context.

The three steps are public so that attacks and defenses can act between them; ``forward`` adds an
optional ``summary_delta`` to the summaries between (a) and (b): the latent-injection point.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.utils import ModelOutput

from forest.model import inputs as check
from forest.model.aggregation import AggregationAttention, ForestAggregator
from forest.model.config import ForestConfig
from forest.model.encoder import AgentEncoder
from forest.model.heads import ForestHeads
from forest.model.llama_init import forest_config_from_llama, load_llama_layers
from forest.model.robust_aggregation import RobustAggregation


@dataclass
class ForestOutput(ModelOutput):
    """One round's outputs; ``summaries`` already include any ``summary_delta``."""

    summaries: torch.Tensor | None = None  # (n, d)
    context: torch.Tensor | None = None  # (n, d)
    action_logits: torch.Tensor | None = None  # (n, n_actions)
    message_logits: torch.Tensor | None = None  # (n, message_len, message_vocab)
    value: torch.Tensor | None = None  # (n,)
    attention: AggregationAttention | None = None


class ForestPreTrainedModel(PreTrainedModel):
    """What ``ForestModel`` and ``DenseForest`` share: config, encoder, heads, input checks."""

    config_class = ForestConfig
    config: ForestConfig
    base_model_prefix = "forest"
    main_input_name = "input_ids"
    _supports_sdpa = True
    _no_split_modules: ClassVar[list[str]] = ["LlamaDecoderLayer"]

    def __init__(self, config: ForestConfig) -> None:
        super().__init__(config)
        self.encoder = AgentEncoder(config)
        self.readout = ForestHeads(config)

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        std = self.config.initializer_range
        if isinstance(module, AgentEncoder):
            init.normal_(module.memory_token, std=std)
            init.normal_(module.summary_token, std=std)
        elif isinstance(module, ForestAggregator):
            init.normal_(module.tree_slots, std=std)
            init.normal_(module.forest_slots, std=std)
            # Null keys start at the weight of one agent, with a zero value.
            init.zeros_(module.tree_sink_logit)
            init.zeros_(module.tree_sink_value)
            init.zeros_(module.forest_sink_logit)
            init.zeros_(module.forest_sink_value)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.encoder.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.encoder.embed_tokens = value

    @classmethod
    def from_llama(
        cls, llama_dir: str | Path, config: ForestConfig | None = None, **overrides: Any
    ) -> Self:
        """A forest whose encoder layers (and final norm) come from a local ``LlamaModel``.

        ``llama_dir`` holds a ``save_pretrained`` checkpoint (config.json + safetensors) of a
        ``LlamaModel`` or ``LlamaForCausalLM``. Without ``config`` the forest takes the Llama's
        shape (and ``overrides`` for the forest's own fields); with one, the shapes must match
        and the first ``config.num_hidden_layers`` layers are used. Everything else (token,
        role, memory and summary embeddings, slots, heads) is freshly initialised.
        """
        if config is None:
            config = forest_config_from_llama(llama_dir, **overrides)
        model = cls(config)
        load_llama_layers(model.encoder, llama_dir, config)
        return model

    def encode(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        role_ids: torch.Tensor | None = None,
        memory: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(a) Summary tokens ``(n, d)``; pass ``inputs_embeds (n, T, d)`` to differentiate
        with respect to the token embeddings (white-box attacks)."""
        a = check.agent_inputs(
            self.config, input_ids, inputs_embeds, attention_mask, role_ids, memory
        )
        return self.encoder(a.input_ids, a.inputs_embeds, a.token_mask, a.role_ids, a.memory)

    def heads(
        self, summaries: torch.Tensor, context: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(c) Action logits ``(n, n_actions)``, messages ``(n, len, vocab)``, value ``(n,)``."""
        d = self.config.hidden_size
        n = summaries.shape[0] if isinstance(summaries, torch.Tensor) else 0
        summaries = check.finite_floats(summaries, "summaries", (n, d))
        context = check.finite_floats(context, "context", (n, d))
        return self.readout(summaries, context)

    def _round_extras(
        self,
        n: int,
        like: torch.Tensor,
        tree_ids: torch.Tensor | None,
        aggregation_weights: torch.Tensor | None,
        summary_delta: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Validated tree ids (one tree if None), weights (all 1 if None) and summary delta."""
        trees = (
            torch.zeros(n, dtype=torch.long, device=like.device)
            if tree_ids is None
            else check.integer_ids(tree_ids, "tree_ids", (n,), None)
        )
        weights = check.aggregation_weights(aggregation_weights, n, like)
        delta = (
            None
            if summary_delta is None
            else check.finite_floats(summary_delta, "summary_delta", (n, self.config.hidden_size))
        )
        return trees, weights, delta


class ForestModel(ForestPreTrainedModel):
    """The compressed forest: per-agent encoder, hierarchical slot aggregation, per-agent heads."""

    def __init__(self, config: ForestConfig) -> None:
        super().__init__(config)
        self.aggregator = ForestAggregator(config)
        self.post_init()

    def aggregate(
        self,
        summaries: torch.Tensor,
        tree_ids: torch.Tensor | None = None,
        aggregation_weights: torch.Tensor | None = None,
        robust_aggregation: RobustAggregation | None = None,
    ) -> torch.Tensor:
        """(b) Context ``(n, d)`` per agent; weight 0 removes an agent's influence on others."""
        return self.aggregate_with_attention(
            summaries, tree_ids, aggregation_weights, robust_aggregation
        )[0]

    def aggregate_with_attention(
        self,
        summaries: torch.Tensor,
        tree_ids: torch.Tensor | None = None,
        aggregation_weights: torch.Tensor | None = None,
        robust_aggregation: RobustAggregation | None = None,
    ) -> tuple[torch.Tensor, AggregationAttention]:
        """(b) Context ``(n, d)`` and where every slot's attention went (for detectors)."""
        n = summaries.shape[0] if isinstance(summaries, torch.Tensor) else 0
        summaries = check.finite_floats(summaries, "summaries", (n, self.config.hidden_size))
        trees, weights, _ = self._round_extras(n, summaries, tree_ids, aggregation_weights, None)
        return self.aggregator(summaries, trees, weights, robust_aggregation)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        role_ids: torch.Tensor | None = None,
        tree_ids: torch.Tensor | None = None,
        memory: torch.Tensor | None = None,
        aggregation_weights: torch.Tensor | None = None,
        summary_delta: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        return_attention: bool = False,
        sybil_summaries: torch.Tensor | None = None,
        sybil_tree_ids: torch.Tensor | None = None,
        robust_aggregation: RobustAggregation | None = None,
        encoded: torch.Tensor | None = None,
    ) -> ForestOutput:
        """One round for n agents: (a) encode, + ``summary_delta``, (b) aggregate, (c) heads.

        ``encoded`` (n, d): step (a)'s result for exactly these inputs, when the caller already
        has it (a policy deciding one round several times over, as the red-team's replays do);
        step (a) is then skipped.

        ``sybil_summaries`` (s, d) with ``sybil_tree_ids`` (s,) are fake agents that join the
        aggregation (b) in those trees, with no inputs of their own and no outputs: the
        population intervention point. Outputs stay per real agent; ``attention`` (when asked
        for) covers the n real agents followed by the s sybils. ``robust_aggregation`` pools each
        tree slot robustly (a defense, `forest/model/robust_aggregation.py`).
        """
        summaries = (
            self.encode(input_ids, attention_mask, role_ids, memory, inputs_embeds)
            if encoded is None
            else encoded
        )
        n = summaries.shape[0]
        trees, weights, delta = self._round_extras(
            n, summaries, tree_ids, aggregation_weights, summary_delta
        )
        if delta is not None:
            summaries = summaries + delta
        pool, pool_trees, pool_weights = summaries, trees, weights
        if sybil_summaries is not None or sybil_tree_ids is not None:
            fakes, fake_trees = check.sybils(self.config, sybil_summaries, sybil_tree_ids)
            pool = torch.cat([summaries, fakes.to(summaries.dtype)])
            pool_trees = torch.cat([trees, fake_trees])
            pool_weights = torch.cat([weights, torch.ones_like(fake_trees, dtype=weights.dtype)])
        context, attention = self.aggregator(pool, pool_trees, pool_weights, robust_aggregation)
        context = context[:n]
        actions, messages, value = self.readout(summaries, context)
        kept = attention if return_attention else None
        return ForestOutput(summaries, context, actions, messages, value, kept)
