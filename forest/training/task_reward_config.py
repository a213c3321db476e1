"""What a task-reward fine-tune does, as a validated dataclass with named presets."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from forest.economy import economy_names
from forest.errors import ConfigError
from forest.training.presets import NamedPresets
from forest.validation import require_float, require_int

REWARD_SCOPES = ("tree", "agent")


@dataclasses.dataclass(frozen=True)
class TaskRewardConfig(NamedPresets):
    """Policy-gradient fine-tuning of a cloned forest on one economy's own task flags.

    Behaviour cloning cannot take a forest above its teacher: in the supply chain the expert's
    safety stock leaves backlog after the demand step, and a forest that clones it faithfully
    inherits that. Here the forest plays the economy itself, sampling its actions, and each
    sampled action is reinforced by how often the agent's tree completes its tasks over the
    following rounds (a discounted return of the tree's ``task_completed`` flags), against the
    mean return of agents of its role in the same round. Messages keep cloning the expert's,
    and every other economy's expert is imitated alongside, so that what the forest knows
    elsewhere stays.
    """

    economy: str = "supply_chain"
    n_agents: int = 480  # 48 supply-chain trees: each tree's return is one sample
    rounds: int = 40
    iterations: int = 12
    learning_rate: float = 3e-4
    epochs: int = 2  # optimiser steps per iteration, each on the whole batch's gradient
    # Weight of a task flag ``k`` rounds ahead: an order reaches the shelf after the lead time
    # (2-3 rounds), so the return must look past it.
    discount: float = 0.8
    clip: float = 0.2  # PPO's bound on how far one update moves a sampled class's probability
    # Whose task flags reward an agent's action: its whole tree's ("tree") or its own
    # ("agent"). With its own, large's supply-chain completion fell from 0.93 to 0.82 in 20
    # iterations: over-ordering clears an agent's own backlog and moves it up the chain.
    reward_scope: str = "tree"
    temperature: float = 1.0  # of the action softmax the forest samples from while it explores
    message_weight: float = 0.5
    label_sigma: float = 1.0  # of the imitation targets on the other economies
    anchor_agents: int = 60  # agents per expert episode of every other economy, per iteration
    anchor_rounds: int = 20
    seed: int = 0
    threads: int = 1

    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "default": {},
        # A fine-tune for tests: runs in seconds.
        "tiny": {
            "n_agents": 30,
            "rounds": 6,
            "iterations": 2,
            "anchor_agents": 20,
            "anchor_rounds": 4,
        },
    }

    def __post_init__(self) -> None:
        if self.economy not in economy_names():
            raise ConfigError(f"economy: expected one of {economy_names()}, got {self.economy!r}")
        for name in ("n_agents", "anchor_agents"):
            require_int(getattr(self, name), name, 20, 100_000)
            if getattr(self, name) % 10:
                raise ConfigError(
                    f"{name}: expected a multiple of 10 (every economy's market size), "
                    f"got {getattr(self, name)}"
                )
        require_int(self.rounds, "rounds", 2, 10_000)
        require_int(self.anchor_rounds, "anchor_rounds", 1, 10_000)
        require_int(self.iterations, "iterations", 1, 10_000)
        require_int(self.epochs, "epochs", 1, 100)
        require_float(self.learning_rate, "learning_rate", 0.0, 1.0, low_open=True)
        require_float(self.discount, "discount", 0.0, 1.0)
        if self.reward_scope not in REWARD_SCOPES:
            raise ConfigError(
                f"reward_scope: expected one of {REWARD_SCOPES}, got {self.reward_scope!r}"
            )
        require_float(self.clip, "clip", 0.0, 1.0, low_open=True)
        require_float(self.temperature, "temperature", 0.0, 100.0, low_open=True)
        require_float(self.message_weight, "message_weight", 0.0, 100.0)
        require_float(self.label_sigma, "label_sigma", 0.0, 100.0)
        require_int(self.seed, "seed", 0)
        require_int(self.threads, "threads", 1, 256)
