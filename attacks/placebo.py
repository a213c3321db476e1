"""The placebo of an attack: random perturbations of the attack's own budget.

Spread is reported as excess over the placebo (Carlini et al. 2019's checklist: a weak attack
and a robust model read alike unless something tells them apart). The placebo plays the
wrapped attack, then keeps only the *size* of what it did: every summary row it perturbed gets
a random direction of the same norm, every sybil a random summary of the same norm in the same
tree, every observation row it changed a random change of the same norm, every message it
rewrote random digits (its kind kept), every action it changed a random action. What the
attack aimed is gone; how much it touched stays. Words (``message_text``) have no budget that a
random draw could keep and are refused.
"""

from __future__ import annotations

import numpy as np
import torch

from attacks.base import Attack, AttackView
from attacks.objectives import RoundOutcome
from forest.economy import Economy, Messages
from forest.economy.messages import FIRST_DIGIT, VOCAB_SIZE
from forest.errors import ConfigError


def _random_rows(norms: torch.Tensor, width: int, rng: np.random.Generator) -> torch.Tensor:
    """Rows of Gaussian directions scaled to ``norms`` (k,)."""
    draw = torch.from_numpy(rng.standard_normal((norms.shape[0], width))).float()
    return draw / draw.norm(dim=1, keepdim=True).clamp_min(1e-12) * norms[:, None]


class Placebo(Attack):
    """``inner``'s budget, spent at random (module docstring)."""

    def __init__(self, inner: Attack) -> None:
        # No Attack.__init__: the inner attack checked its own threat model.
        self.inner = inner
        self.params = inner.params
        self.threat = inner.threat
        self.name = f"{inner.name} (placebo)"
        self.description = f"random perturbations of {inner.name}'s budget"
        self.surface = inner.surface
        self.knowledge = inner.knowledge

    @property
    def first_round(self) -> int:
        return self.inner.first_round

    def check(self, economy: Economy, rounds: int) -> None:
        self.inner.check(economy, rounds)
        if self.inner.surface == "message text":
            raise ConfigError(f"placebo: {self.inner.name} writes words, which have no budget "
                              "a random draw could keep")  # fmt: skip

    def observations(self, view: AttackView, observations: np.ndarray) -> np.ndarray | None:
        lied = self.inner.observations(view, observations)
        if lied is None:
            return None
        change = lied - observations
        norms = np.linalg.norm(change, axis=1)
        noise = view.rng.standard_normal(change.shape)
        noise *= (norms / np.maximum(np.linalg.norm(noise, axis=1), 1e-12))[:, None]
        return (observations + noise).astype(observations.dtype)

    def summary_delta(self, view: AttackView, hidden_size: int) -> torch.Tensor | None:
        delta = self.inner.summary_delta(view, hidden_size)
        if delta is None:
            return None
        return _random_rows(delta.norm(dim=1), hidden_size, view.rng)

    def sybils(
        self, view: AttackView, hidden_size: int
    ) -> tuple[torch.Tensor, torch.Tensor] | None:
        fakes = self.inner.sybils(view, hidden_size)
        if fakes is None:
            return None
        summaries, trees = fakes
        return _random_rows(summaries.norm(dim=1), hidden_size, view.rng), trees

    def actions(self, view: AttackView, actions: np.ndarray) -> np.ndarray:
        acted = self.inner.actions(view, actions)
        changed = acted != actions
        if not changed.any():
            return acted
        out = actions.copy()
        out[changed] = view.rng.integers(0, view.economy.n_actions, int(changed.sum()))
        return out

    def messages(self, view: AttackView, messages: Messages) -> Messages:
        edited = self.inner.messages(view, messages)
        if edited is messages:
            return edited
        # A row is the attack's doing unless the same (sender, receiver, tokens) was sent.
        sent = {(int(s), int(r), row.tobytes())
                for s, r, row in zip(messages.sender, messages.receiver, messages.tokens,
                                     strict=True)}  # fmt: skip
        rewritten = np.array([(int(s), int(r), row.tobytes()) not in sent
                              for s, r, row in zip(edited.sender, edited.receiver, edited.tokens,
                                                   strict=True)], dtype=bool)  # fmt: skip
        tokens = edited.tokens.copy()
        digits = view.rng.integers(
            FIRST_DIGIT, VOCAB_SIZE, (int(rewritten.sum()), tokens.shape[1] - 1)
        )
        tokens[rewritten, 1:] = digits
        return Messages(edited.sender, edited.receiver, tokens)

    def succeeded(self, outcome: RoundOutcome) -> bool:
        return self.inner.succeeded(outcome)
