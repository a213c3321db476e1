"""The placebo of an attack: random perturbations of the attack's own budget.

Spread is reported as excess over the placebo (Carlini et al. 2019's checklist: a weak attack
and a robust model read alike unless something tells them apart). The placebo plays the
wrapped attack, then keeps only the *size* of what it did: every summary row it perturbed gets
a random direction of the same norm, every sybil a random summary of the same norm in the same
tree, every observation row it changed a random change of the same norm, every message it
wrote random digits (and a random kind where it chose the kind), every action it changed a move
of the same size in a random direction. What the
attack aimed is gone; how much it touched stays. Words (``message_text``) have no budget that a
random draw could keep and are refused.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import torch

from attacks.base import Attack, AttackView, EpisodeOracle, Plan
from attacks.objectives import RoundOutcome
from forest.economy import Economy, Messages
from forest.economy.messages import FIRST_DIGIT, N_KIND_TOKENS, VOCAB_SIZE
from forest.errors import ConfigError


def _rows(messages: Messages) -> list[tuple[int, int, bytes]]:
    """Each message as (sender, receiver, tokens), to count as a multiset."""
    rows = zip(messages.sender, messages.receiver, messages.tokens, strict=True)
    return [(int(a), int(b), tokens.tobytes()) for a, b, tokens in rows]


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
        if type(self.inner).monitored is not Attack.monitored:
            raise ConfigError(f"placebo: {self.inner.name} is a measurement device (it rewrites "
                              "what the monitor reads), not an attack with a budget")  # fmt: skip
        if self.inner.surface == "message text":
            raise ConfigError(f"placebo: {self.inner.name} writes words, which have no budget "
                              "a random draw could keep")  # fmt: skip

    def plan(self, oracle: EpisodeOracle) -> Plan | None:
        # The wrapped attack's own plan: the placebo spends the budget that plan spends.
        return self.inner.plan(oracle)

    def adopt(self, plan: Plan) -> None:
        self.inner.adopt(plan)

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
        """Each changed action moved by as much as the attack moved it, in a random direction
        (an order spike's size, not its sign)."""
        acted = self.inner.actions(view, actions)
        changed = acted != actions
        if not changed.any():
            return acted
        size = np.abs(acted - actions)[changed]
        sign = np.where(view.rng.random(size.size) < 0.5, -1, 1)
        out = actions.copy()
        out[changed] = np.clip(actions[changed] + sign * size, 0, view.economy.n_actions - 1)
        return out

    def messages(self, view: AttackView, messages: Messages) -> Messages:
        """Every row the attack wrote (a rewrite, or a row no honest sender sent as often) gets
        random digits, and a random kind where the attack chose the kind."""
        edited = self.inner.messages(view, messages)
        if edited is messages:
            return edited
        tokens = edited.tokens.copy()
        if len(edited) == len(messages) and (edited.sender == messages.sender).all():
            written = (edited.tokens != messages.tokens).any(axis=1)
            kind_chosen = written & (edited.kinds != messages.kinds)
        else:  # rows added or dropped: what no honest sender sent that often is the attack's
            sent = Counter(_rows(messages))
            written = np.zeros(len(edited), dtype=bool)
            for i, row in enumerate(_rows(edited)):
                written[i] = sent[row] == 0
                sent[row] -= 1
            kind_chosen = written
        count = int(written.sum())
        tokens[written, 1:] = view.rng.integers(
            FIRST_DIGIT, VOCAB_SIZE, (count, tokens.shape[1] - 1)
        )
        tokens[kind_chosen, 0] = view.rng.integers(1, N_KIND_TOKENS, int(kind_chosen.sum()))
        return Messages(edited.sender, edited.receiver, tokens)

    def succeeded(self, outcome: RoundOutcome) -> bool:
        return self.inner.succeeded(outcome)
