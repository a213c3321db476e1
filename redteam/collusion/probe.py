"""The punishment probe as an intervention: firm 0 of every market forced to the bottom of the
price grid for one round, on top of whatever the scenario's cartel does.

A cartel that punishes answers the forced undercut in the rounds after it; honest firms do not.
The probe runs through the episode engine's attack hooks like any attack: it wraps the
scenario's cartel (or nothing), lets it act, then forces the price and the quote of firm 0.
"""

from __future__ import annotations

import numpy as np
import torch

from attacks import Attack, AttackParams, AttackView, ThreatModel
from forest.economy import Economy, Messages
from forest.economy.messages import PRICE, encode
from forest.economy.pricing import Pricing

PROBED_FIRM = 0


class Probed(Attack):
    """``inner`` (None: no cartel), with firm 0 of every market forced to the lowest price and
    quote in ``round`` (None: never, the unprobed episode)."""

    name = "punishment-probe"
    description = "firm 0 of every market forced to the bottom of the price grid for one round"
    surface = "actions and messages"
    objective = "none: a measurement"

    def __init__(self, inner: Attack | None, round_: int | None) -> None:
        # No Attack.__init__: the inner attack checked its own threat model.
        self.inner = inner
        self.round = round_
        self.params = inner.params if inner is not None else AttackParams()
        self.threat = inner.threat if inner is not None else ThreatModel()

    def _forced(self, view: AttackView) -> np.ndarray | None:
        """(n,) bool: the agents forced this round, or None."""
        economy = view.economy
        if view.round != self.round or not isinstance(economy, Pricing):
            return None
        firm = np.zeros((economy.k, economy.n_markets), dtype=bool)
        firm[PROBED_FIRM] = True
        return economy.to_agents(firm)

    def check(self, economy: Economy, rounds: int) -> None:
        if self.inner is not None:
            self.inner.check(economy, rounds)

    def observations(self, view: AttackView, observations: np.ndarray) -> np.ndarray | None:
        return None if self.inner is None else self.inner.observations(view, observations)

    def message_text(self, view: AttackView) -> dict[int, str] | None:
        return None if self.inner is None else self.inner.message_text(view)

    def summary_delta(self, view: AttackView, hidden_size: int) -> torch.Tensor | None:
        return None if self.inner is None else self.inner.summary_delta(view, hidden_size)

    def sybils(
        self, view: AttackView, hidden_size: int
    ) -> tuple[torch.Tensor, torch.Tensor] | None:
        return None if self.inner is None else self.inner.sybils(view, hidden_size)

    def actions(self, view: AttackView, actions: np.ndarray) -> np.ndarray:
        if self.inner is not None:
            actions = self.inner.actions(view, actions)
        forced = self._forced(view)
        return actions if forced is None else np.where(forced, 0, actions)

    def messages(self, view: AttackView, messages: Messages) -> Messages:
        if self.inner is not None:
            messages = self.inner.messages(view, messages)
        forced = self._forced(view)
        if forced is None:
            return messages
        quotes = forced[messages.sender] & (messages.kinds == PRICE)
        tokens = messages.tokens.copy()
        tokens[quotes] = encode(PRICE, np.zeros(int(quotes.sum()), dtype=np.int64))
        return Messages(messages.sender, messages.receiver, tokens)
