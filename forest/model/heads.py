"""Step (c): per-agent heads reading the agent's own summary and its forest context.

A shared trunk feeds three heads: the action distribution, the outgoing message tokens and a
scalar value (the model's confidence in the round, which escalation rules can threshold).
"""

from __future__ import annotations

import torch
from torch import nn

from forest.model.config import ForestConfig
from forest.model.norm import StableRMSNorm


class ForestHeads(nn.Module):
    """``summaries (n, d)``, ``context (n, d)`` -> action, message and value outputs."""

    def __init__(self, config: ForestConfig) -> None:
        super().__init__()
        d = config.hidden_size
        self.message_shape = (config.message_len, config.message_vocab)
        # Summaries may carry an injected latent of any norm; the norm keeps the heads finite.
        self.summary_norm = StableRMSNorm(d, config.rms_norm_eps)
        self.context_norm = StableRMSNorm(d, config.rms_norm_eps)
        self.trunk = nn.Sequential(nn.Linear(2 * d, d), nn.SiLU())
        self.action_head = nn.Linear(d, config.n_actions)
        self.message_head = nn.Linear(d, config.message_len * config.message_vocab)
        self.value_head = nn.Linear(d, 1)

    def forward(
        self, summaries: torch.Tensor, context: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Action logits ``(n, n_actions)``, message logits ``(n, len, vocab)``, value ``(n,)``."""
        both = torch.cat([self.summary_norm(summaries), self.context_norm(context)], dim=-1)
        h = self.trunk(both)  # (n, d)
        messages = self.message_head(h).unflatten(-1, self.message_shape)
        return self.action_head(h), messages, self.value_head(h).squeeze(-1)
