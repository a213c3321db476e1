"""What the latent-attack tests share: the shipped forest and a warmed-up supply chain."""

from pathlib import Path

import numpy as np
import pytest

from attacks import ThreatModel
from forest.checkpoints import load_policy
from forest.economy import make_economy
from redteam.episodes import fresh_policy

CHECKPOINT = Path(__file__).parents[2] / "checkpoints" / "small"
N_AGENTS = 60
WARMUP = 3  # clean rounds first, so that agents of one role no longer share one state


@pytest.fixture(scope="module")
def policy():
    return load_policy(CHECKPOINT)


@pytest.fixture(scope="module")
def world(policy):
    """supply_chain (60 agents) after WARMUP clean rounds, the policy that played them, and a
    10% threat drawn as the harness draws it."""
    economy = make_economy("supply_chain", 0, n_agents=N_AGENTS)
    played = fresh_policy(policy, use_router=True)
    for _ in range(WARMUP):
        step = played.act(economy)
        economy.step(step.actions, step.messages)
    ids = ThreatModel(fraction=0.1).choose_agents(economy, np.random.default_rng(0))
    return economy, played, ids
