"""A universal latent token: one malicious summary perturbation, optimised once, replayed always.

At the attack's first active round it runs white-box PGD (``attacks.latent.pgd`` with
``shared=True``) for a single vector that every compromised agent adds to its summary token,
maximising the objective's gain on that round; from then on the same vector is added every
round, never re-optimised: a cheap, stealthy-by-constancy attack that needs the gradients once
(the "universal adversarial perturbation" of Moosavi-Dezfooli et al. 2017, in the forest's
compressed latent). Whether one round's optimum keeps hurting as the economy and the memories
move is what the attack measures.

Budget: ``epsilon`` is the token's L2 norm bound relative to the typical summary norm of the
round it was optimised in (then it is replayed as is, an absolute vector). Default objective:
untargeted (honest agents' decisions pulled from the clean ones); ``steps`` defaults to 40,
twice per-round PGD's, since the one optimisation has to last the episode.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from attacks.base import Attack, AttackParams, AttackView, ThreatModel
from attacks.latent import PGDParams, latent_round, pgd
from attacks.registry import register_attack


@dataclass(frozen=True)
class UniversalTokenParams(PGDParams):
    steps: int = 40


@register_attack
class UniversalLatentToken(Attack):
    name = "universal-latent-token"
    threat_tags = ("AML.T0043.000", "AML.T0031", "LLM08:2025", "ASI06", "ASI08")
    description = (
        "one shared summary-token perturbation, optimised by PGD at the first active round "
        "and replayed unchanged on every compromised agent after"
    )
    surface = "summary tokens"
    knowledge = "white-box"
    params_class = UniversalTokenParams
    params: UniversalTokenParams

    def __init__(self, params: AttackParams, threat: ThreatModel) -> None:
        super().__init__(params, threat)
        # (d,) the token, once optimised; the harness makes one attack object per episode.
        self.token: torch.Tensor | None = None
        self.optimised_at: int | None = None

    def summary_delta(self, view: AttackView, hidden_size: int) -> torch.Tensor | None:
        if not self.active(view.round) or self.params.epsilon == 0.0:
            return None
        if self.token is None:
            lr = latent_round(view)
            self.token = pgd(view, lr, self.objective, self.params, shared=True)[0].clone()
            self.optimised_at = view.round
        delta = torch.zeros(view.economy.n_agents, self.token.shape[0])
        delta[torch.from_numpy(view.compromised)] = self.token
        return delta
