"""Attack transfer: an attack optimised against one forest (the surrogate), played on another.

A white-box attacker who cannot read the deployed forest's weights can still optimise against a
forest it has (here: the token forest against the pretrained one and back). A transfer is a
cell whose ``surrogate`` names that forest (``transfer_cell``); the runner wraps the cell's
attack in ``TransferredAttack``. The wrapper hands
the inner attack a view whose policy is the surrogate: every gradient, every exact score and
every search runs on the surrogate, and what comes out (perturbed observations, latent deltas,
crafted messages, words) is played on the deployed forest. The surrogate plays every round on
the side, on the same state, so its memory follows the episode as the deployed forest's does.
"""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from attacks import Attack, AttackView, EpisodeOracle, Plan, RoundOutcome
from forest.checkpoints import checkpoint_digest
from forest.economy import Economy, Messages, economy_class
from forest.errors import ConfigError
from forest.params import to_dict
from forest.policy import ForestPolicy
from redteam.cell import Cell
from redteam.suite_sections import MetricSettings


class TransferredAttack(Attack):
    """``inner`` optimised on ``surrogate`` (a fresh policy per episode), acting on the forest
    the harness deploys."""

    def __init__(self, inner: Attack, surrogate: ForestPolicy) -> None:
        # No Attack.__init__: the inner attack already checked its own threat model.
        self.inner = inner
        self.params = inner.params
        self.threat = inner.threat
        self.name = f"{inner.name} (transferred)"
        self.description = inner.description
        self.surface = inner.surface
        self.knowledge = inner.knowledge
        self.surrogate = ForestPolicy(
            surrogate.model, surrogate.tokenizer, surrogate.router, encodings=surrogate.encodings
        )

    def _view(self, view: AttackView) -> AttackView:
        return replace(view, policy=self.surrogate)

    @property
    def first_round(self) -> int:
        return self.inner.first_round

    def check(self, economy: Economy, rounds: int) -> None:
        self.inner.check(economy, rounds)

    def observations(self, view: AttackView, observations: np.ndarray) -> np.ndarray | None:
        return self.inner.observations(self._view(view), observations)

    def message_text(self, view: AttackView) -> dict[int, str] | None:
        return self.inner.message_text(self._view(view))

    def _fits(self, width: int, hidden_size: int) -> None:
        if width != hidden_size:
            raise ConfigError(
                f"transfer: {self.inner.name} writes {width}-wide summaries (the surrogate's), "
                f"the deployed forest's are {hidden_size} wide"
            )

    def summary_delta(self, view: AttackView, hidden_size: int) -> torch.Tensor | None:
        own = self.surrogate.model.config.hidden_size
        delta = self.inner.summary_delta(self._view(view), own)
        if delta is not None:
            self._fits(own, hidden_size)
        return delta

    def sybils(
        self, view: AttackView, hidden_size: int
    ) -> tuple[torch.Tensor, torch.Tensor] | None:
        own = self.surrogate.model.config.hidden_size
        fakes = self.inner.sybils(self._view(view), own)
        if fakes is not None:
            self._fits(own, hidden_size)
        return fakes

    def actions(self, view: AttackView, actions: np.ndarray) -> np.ndarray:
        # The deployed forest's output stays in the view: the attacker's own agents see it.
        return self.inner.actions(replace(view, policy=self.surrogate), actions)

    def messages(self, view: AttackView, messages: Messages) -> Messages:
        edited = self.inner.messages(self._view(view), messages)
        # The round's last hook, and the state is still the one the deployed forest decided on
        # (the economy steps after it): the surrogate reads it too, and remembers its
        # summaries, so that every hook of the next round sees them as last round's.
        self.surrogate.act(view.economy)
        return edited

    def plan(self, oracle: EpisodeOracle) -> Plan | None:
        if type(self.inner).plan is not Attack.plan:
            # The harness's simulator plays the deployed forest, which a transfer attacker
            # never queries.
            raise ConfigError(f"transfer: {self.inner.name} plans on the deployed forest's "
                              "simulator, which a transferred attack may not query")  # fmt: skip
        return None

    def succeeded(self, outcome: RoundOutcome) -> bool:
        return self.inner.succeeded(outcome)


def transfer_cell(
    economy: str, n_agents: int, rounds: int, seed: int, attack: Attack, victim: Path,
    surrogate: Path | None, study: str = "transfer",
) -> Cell:  # fmt: skip
    """An undefended cell of ``attack`` on the forest at ``victim``, optimised on the one at
    ``surrogate`` (None: on the victim itself, the direct attack)."""
    config = economy_class(economy).config_class(n_agents=n_agents)
    return Cell(
        suite=study,
        economy=economy,
        economy_label=economy,
        economy_config={
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()
        },
        attack=attack.name,
        attack_label=attack.name,
        attack_params=to_dict(attack.params),
        threat=to_dict(attack.threat),
        sweep=None,
        defense=None,
        defense_label="no defense",
        defense_params={},
        seed=seed,
        rounds=rounds,
        checkpoint=str(victim),
        checkpoint_digest=checkpoint_digest(victim),
        router=True,
        metrics=to_dict(MetricSettings()),
        surrogate="" if surrogate is None else str(surrogate),
        surrogate_digest="" if surrogate is None else checkpoint_digest(surrogate),
    )
