"""An economy's expert as a policy, with the forest's interface, so that one episode engine plays
expert-run and forest-run markets alike (the collusion benchmark prices with both).

The expert reads the economy's own state: it has no latent, no memory and no router, so the
interventions on the forest's latent do not reach it; what an attack does to its actions and
messages does.
"""

from __future__ import annotations

import numpy as np

from forest.economy import Economy, Messages
from forest.interventions import NO_INTERVENTIONS, Interventions
from forest.policy import Decision, PolicyStep


class ExpertPolicy:
    """``economy.expert()`` each round; ``decide``, ``send`` and ``act`` as ``ForestPolicy``."""

    memory = None
    reads_text = False
    router = None

    def reset(self) -> None:
        """Nothing to forget: the expert keeps no memory of its own."""

    def decide(self, economy: Economy, interventions: Interventions = NO_INTERVENTIONS) -> Decision:
        actions, messages = economy.expert()
        return Decision(actions, messages, None, np.ones(economy.n_agents))

    def send(self, economy: Economy, decision: Decision, outgoing: Messages) -> PolicyStep:
        return PolicyStep(decision.actions, outgoing, None, decision.output, decision.confidence)

    def act(self, economy: Economy, interventions: Interventions = NO_INTERVENTIONS) -> PolicyStep:
        decision = self.decide(economy, interventions)
        return self.send(economy, decision, decision.outgoing)
