"""The naive baseline: every agent's context comes from one joint attention over all agents' tokens.

Same encoder and heads as ``ForestModel``, but step (b) is a Llama decoder layer run over the
concatenation of all n agents' token states (n * (T + 2) positions) with a full bidirectional
mask, so each agent's summary attends to every token of every agent: O((n T)^2) per round.
This is the "O(n^2) communication" design the article's compressed attention replaces; it has
no trees (``tree_ids`` is checked and ignored) and is only run at sizes where it fits.
"""

from __future__ import annotations

import math

import torch
from transformers.models.llama.modeling_llama import (
    LlamaDecoderLayer,
    LlamaRMSNorm,
    LlamaRotaryEmbedding,
)

from forest.errors import InvalidInputError
from forest.model import inputs as check
from forest.model.config import ForestConfig
from forest.model.modeling_forest import ForestOutput, ForestPreTrainedModel
from forest.model.norm import StableRMSNorm
from forest.model.robust_aggregation import RobustAggregation


class DenseForest(ForestPreTrainedModel):
    """Encoder -> one joint attention layer over all agents' tokens -> heads."""

    def __init__(self, config: ForestConfig) -> None:
        super().__init__(config)
        d = config.hidden_size
        # Token states are normalised already, but the summary position may carry an injected
        # latent of any norm.
        self.joint_input_norm = StableRMSNorm(d, config.rms_norm_eps)
        self.joint_layer = LlamaDecoderLayer(config, layer_idx=config.num_hidden_layers)
        self.joint_rotary_emb = LlamaRotaryEmbedding(config)
        self.joint_norm = LlamaRMSNorm(d, eps=config.rms_norm_eps)
        self.post_init()

    def encode_tokens(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        role_ids: torch.Tensor | None = None,
        memory: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Every position's encoder state ``(n, L, d)`` and which are real ``(n, L)``, L = T + 2."""
        a = check.agent_inputs(
            self.config, input_ids, inputs_embeds, attention_mask, role_ids, memory
        )
        states = self.encoder.token_states(
            a.input_ids, a.inputs_embeds, a.token_mask, a.role_ids, a.memory
        )
        always = torch.ones(a.n, 1, dtype=torch.bool, device=a.token_mask.device)
        return states, torch.cat([always, a.token_mask, always], dim=1)

    def aggregate(
        self,
        token_states: torch.Tensor,
        token_mask: torch.Tensor,
        aggregation_weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Context ``(n, d)``: each summary position after attending to all n * L positions.

        Aggregation weights are log-weights on every key of the agent (0 removes it); at least
        one agent must keep a positive weight, or no query has a key left.
        """
        n, length, d = token_states.shape
        weights = check.aggregation_weights(aggregation_weights, n, token_states)
        if not bool((weights > 0).any()):
            raise InvalidInputError("aggregation_weights: DenseForest needs one positive weight")
        active = token_mask & (weights > 0)[:, None]  # (n, L)
        log_w = torch.where(weights > 0, weights, torch.ones_like(weights)).log()
        bias = log_w[:, None].expand(n, length).masked_fill(~active, -math.inf)
        total = n * length
        # One additive key bias row, broadcast to every query: never an (nL x nL) tensor.
        mask = bias.reshape(1, 1, 1, total).expand(1, 1, total, total).to(token_states.dtype)
        # Positions restart in every agent so that no agent is "earlier" than another.
        position_ids = torch.arange(length, device=token_states.device).repeat(n).unsqueeze(0)
        x = self.joint_input_norm(token_states).reshape(1, total, d)
        cos_sin = self.joint_rotary_emb(x, position_ids)
        x = self.joint_layer(
            x, attention_mask=mask, position_ids=position_ids, position_embeddings=cos_sin
        )
        return self.joint_norm(x.reshape(n, length, d)[:, -1])

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
    ) -> ForestOutput:
        """Same round interface as ``ForestModel.forward``; no attention maps are returned."""
        if robust_aggregation is not None:
            raise InvalidInputError(
                "robust_aggregation: robust pooling replaces the tree slots' weighted mean of "
                "a ForestModel; DenseForest has no slots to pool into"
            )
        if sybil_summaries is not None or sybil_tree_ids is not None:
            raise InvalidInputError(
                "sybil_summaries: sybils join the compressed aggregation of a ForestModel; "
                "DenseForest attends over every agent's tokens and has no summaries to join"
            )
        states, token_mask = self.encode_tokens(
            input_ids, attention_mask, role_ids, memory, inputs_embeds
        )
        n = states.shape[0]
        _, weights, delta = self._round_extras(
            n, states, tree_ids, aggregation_weights, summary_delta
        )
        if delta is not None:
            states = torch.cat([states[:, :-1], (states[:, -1] + delta).unsqueeze(1)], dim=1)
        context = self.aggregate(states, token_mask, weights)
        summaries = states[:, -1]
        actions, messages, value = self.readout(summaries, context)
        return ForestOutput(summaries, context, actions, messages, value, None)
