"""The router: a lightweight learned scorer that drops redundant and low-value messages.

It sits between what agents send and what the economy delivers. Each message is scored from its
tokens and the roles of its sender and receiver (a few thousand parameters: it must be much
cheaper than the forest it saves tokens for); messages scoring below ``threshold`` are dropped,
and if more than ``keep_budget`` of the round's tokens remain, only the best-scoring ones go.

It is trained (``forest.training.router``) on counterfactual labels: a message is worth keeping
when withholding it alone changes its receiver's next decision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from forest.economy import ROLES, Messages
from forest.economy.messages import MESSAGE_LEN, VOCAB_SIZE
from forest.validation import require_float


@dataclass(frozen=True)
class Routed:
    """One round's routing: what was kept and how many tokens that saved."""

    kept: Messages
    scores: np.ndarray  # (M,) keep probability of every message sent
    tokens_in: int
    tokens_kept: int

    @property
    def kept_share(self) -> float:
        return self.tokens_kept / self.tokens_in if self.tokens_in else 1.0


class Router(nn.Module):
    """Keep probability per message from (tokens, sender role, receiver role)."""

    def __init__(self, hidden: int = 32, threshold: float = 0.5, keep_budget: float = 1.0) -> None:
        super().__init__()
        require_float(threshold, "threshold", 0.0, 1.0)
        require_float(keep_budget, "keep_budget", 0.0, 1.0)
        self.threshold = threshold
        self.keep_budget = keep_budget
        # One embedding table per token position: a kind and the high and low value digits.
        self.token_embedding = nn.Embedding(MESSAGE_LEN * VOCAB_SIZE, hidden)
        self.role_embedding = nn.Embedding(2 * len(ROLES), hidden)
        self.score = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, 1))

    def forward(
        self, tokens: torch.Tensor, sender_role: torch.Tensor, receiver_role: torch.Tensor
    ) -> torch.Tensor:
        """Keep logits ``(M,)`` for tokens ``(M, MESSAGE_LEN)`` and roles ``(M,)``."""
        offsets = torch.arange(MESSAGE_LEN, device=tokens.device) * VOCAB_SIZE
        h = self.token_embedding(tokens + offsets).sum(dim=1)  # (M, hidden)
        h = h + self.role_embedding(sender_role) + self.role_embedding(receiver_role + len(ROLES))
        return self.score(h).squeeze(-1)

    @torch.inference_mode()
    def keep_probability(self, messages: Messages, role: np.ndarray) -> np.ndarray:
        if not len(messages):
            return np.zeros(0)
        # The forest may be run under autocast (forest bench --dtype bf16); the router is tiny,
        # and its keep threshold stays the float32 decision it was trained to make.
        with torch.autocast("cpu", enabled=False):
            logits = self(
                torch.from_numpy(messages.tokens),
                torch.from_numpy(role[messages.sender]),
                torch.from_numpy(role[messages.receiver]),
            )
        return torch.sigmoid(logits).numpy()

    def route(self, messages: Messages, role: np.ndarray) -> Routed:
        """Drop messages below the threshold, then keep the best within the token budget."""
        scores = self.keep_probability(messages, role)
        keep = np.flatnonzero(scores >= self.threshold)
        budget = int(np.floor(self.keep_budget * len(messages)))
        if keep.size > budget:
            keep = keep[np.argsort(-scores[keep], kind="stable")[:budget]]
            keep.sort()
        kept = messages.select(keep)
        return Routed(kept, scores, messages.n_tokens, kept.n_tokens)
