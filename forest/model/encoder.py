"""Step (a): the agent encoder, one shared Llama decoder stack applied to every agent separately.

Each agent's round is read as ``[memory] x_1 ... x_T [summary]``: the previous summary enters as
a projection added to the memory position's embedding, the role embedding is added everywhere,
attention is bidirectional within the agent (never across agents), and the summary position's
final hidden state is the agent's summary token. Agents are encoded in chunks so that activation
memory is bounded by the chunk, and grows with the number of agents only through the summaries.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn
from transformers.models.llama.modeling_llama import (
    LlamaDecoderLayer,
    LlamaRMSNorm,
    LlamaRotaryEmbedding,
)

from forest.model.config import ForestConfig
from forest.model.norm import StableRMSNorm

# No chunk is encoded with fewer agents: on this project's CPU a matrix product over 1-3 rows
# rounds differently from one over more, so a short last chunk (129 agents in chunks of 128)
# would give its agents other bits than the same agents in a longer batch. Padded with copies
# of its last agent (whose extra summaries are dropped), every agent's summary is the same
# whichever agents share its batch: what ``forest.encoding_cache`` relies on.
MIN_CHUNK = 16


def _pad_rows(x: torch.Tensor | None, rows: int) -> torch.Tensor | None:
    """``x`` with its last row repeated up to ``rows`` rows."""
    if x is None or x.shape[0] >= rows:
        return x
    return torch.cat([x, x[-1:].expand(rows - x.shape[0], *x.shape[1:])])


class AgentEncoder(nn.Module):
    """Tokens ``(n, T)``, roles and memories -> summaries ``(n, d)``, a chunk of agents at a time.

    Module names (``layers.{i}``, ``norm``) match ``LlamaModel`` so its weights map one to one.

    With ``positions_skip_padding`` a position counts the real tokens before it, so the summary
    sits right after an agent's last real token however long the longest agent's input is. The
    pretrained forest needs it: its prompts are padded to the longest in the round, and
    otherwise an agent's summary would move with its neighbours' prompt lengths. The token
    forest's inputs always have the same length; it keeps plain positions, as it was trained.
    """

    positions_skip_padding: bool = False

    def __init__(self, config: ForestConfig) -> None:
        super().__init__()
        d = config.hidden_size
        self.chunk_size = config.encoder_chunk_size
        self.embed_tokens = nn.Embedding(config.vocab_size, d)
        self.embed_roles = nn.Embedding(config.num_roles, d)
        self.memory_token = nn.Parameter(torch.zeros(d))
        self.summary_token = nn.Parameter(torch.zeros(d))
        # The memory is an earlier summary, or whatever an attacker wrote there: normalise first.
        self.memory_norm = StableRMSNorm(d, config.rms_norm_eps)
        self.memory_proj = nn.Linear(d, d, bias=False)
        self.layers = nn.ModuleList(
            LlamaDecoderLayer(config, i) for i in range(config.num_hidden_layers)
        )
        self.rotary_emb = LlamaRotaryEmbedding(config)
        self.norm = LlamaRMSNorm(d, eps=config.rms_norm_eps)

    def embed(
        self,
        input_ids: torch.Tensor | None,
        inputs_embeds: torch.Tensor | None,
        role_ids: torch.Tensor,
        memory: torch.Tensor | None,
    ) -> torch.Tensor:
        """Input embeddings of one chunk: ``(c, T + 2, d)``."""
        tokens = inputs_embeds if input_ids is None else self.embed_tokens(input_ids)  # (c, T, d)
        c, d = tokens.shape[0], tokens.shape[-1]
        mem = self.memory_token.expand(c, 1, d)
        if memory is not None:
            mem = mem + self.memory_proj(self.memory_norm(memory)).unsqueeze(1)
        summary = self.summary_token.expand(c, 1, d)
        x = torch.cat([mem, tokens.to(mem.dtype), summary], dim=1)  # (c, L, d), L = T + 2
        return x + self.embed_roles(role_ids).unsqueeze(1)

    def encode_chunk(self, x: torch.Tensor, token_mask: torch.Tensor) -> torch.Tensor:
        """Llama stack over ``x (c, L, d)``, before the final norm.

        ``token_mask (c, T)`` marks real tokens; memory and summary positions are always real.
        """
        c, length, _ = x.shape
        always = torch.ones(c, 1, dtype=torch.bool, device=x.device)
        keys = torch.cat([always, token_mask, always], dim=1)  # (c, L): memory, tokens, summary
        # An explicit 4D mask keeps attention bidirectional whatever the backend's default is;
        # additive, because the eager backend adds the mask to the scores (a bool would add 1).
        bias = torch.zeros(keys.shape, dtype=x.dtype, device=x.device)
        bias = bias.masked_fill(~keys, torch.finfo(x.dtype).min)
        mask = bias[:, None, None, :].expand(c, 1, length, length)
        if self.positions_skip_padding:
            position_ids = keys.long().cumsum(dim=1) - 1  # (c, L)
        else:
            position_ids = torch.arange(length, device=x.device).unsqueeze(0)  # (1, L)
        cos_sin = self.rotary_emb(x, position_ids)  # (c or 1, L, head_dim) each
        for layer in self.layers:
            x = layer(x, attention_mask=mask, position_embeddings=cos_sin)
        return x

    def _chunks(
        self,
        input_ids: torch.Tensor | None,
        inputs_embeds: torch.Tensor | None,
        token_mask: torch.Tensor,
        role_ids: torch.Tensor,
        memory: torch.Tensor | None,
    ) -> Iterator[torch.Tensor]:
        """Pre-norm states ``(c, L, d)`` of successive chunks of at most ``chunk_size`` agents
        (each encoded with at least ``MIN_CHUNK`` rows)."""
        for start in range(0, token_mask.shape[0], self.chunk_size):
            part = slice(start, start + self.chunk_size)
            c = token_mask[part].shape[0]
            rows = max(c, MIN_CHUNK)
            x = self.embed(
                None if input_ids is None else _pad_rows(input_ids[part], rows),
                None if inputs_embeds is None else _pad_rows(inputs_embeds[part], rows),
                _pad_rows(role_ids[part], rows),
                None if memory is None else _pad_rows(memory[part], rows),
            )
            yield self.encode_chunk(x, _pad_rows(token_mask[part], rows))[:c]

    def forward(
        self,
        input_ids: torch.Tensor | None,
        inputs_embeds: torch.Tensor | None,
        token_mask: torch.Tensor,
        role_ids: torch.Tensor,
        memory: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Summaries ``(n, d)``."""
        chunks = self._chunks(input_ids, inputs_embeds, token_mask, role_ids, memory)
        # Normalising only the summary position lets each chunk's states be freed at once.
        return torch.cat([self.norm(h[:, -1]) for h in chunks])

    def token_states(
        self,
        input_ids: torch.Tensor | None,
        inputs_embeds: torch.Tensor | None,
        token_mask: torch.Tensor,
        role_ids: torch.Tensor,
        memory: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Every position's final state ``(n, T + 2, d)``; the summary is the last position."""
        chunks = self._chunks(input_ids, inputs_embeds, token_mask, role_ids, memory)
        return torch.cat([self.norm(h) for h in chunks])
