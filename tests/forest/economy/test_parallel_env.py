"""Every economy as a PettingZoo ParallelEnv: it passes PettingZoo's own API test, and a round
through it is the economy's round."""

from __future__ import annotations

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from forest.economy import economy_names, make_economy
from forest.economy.parallel_env import EconomyParallelEnv
from forest.errors import InvalidInputError, UnknownNameError


@pytest.mark.parametrize("economy", economy_names())
def test_each_economy_passes_the_pettingzoo_parallel_api_test(economy):
    parallel_api_test(EconomyParallelEnv(economy, n_agents=20, rounds=25), num_cycles=30)


@pytest.mark.parametrize("economy", economy_names())
def test_a_round_through_the_env_is_the_economys_round(economy):
    env = EconomyParallelEnv(economy, n_agents=20, rounds=5)
    observations, _ = env.reset(seed=3)
    twin = make_economy(economy, 3, n_agents=20)
    for _ in range(5):
        np.testing.assert_array_equal(
            np.stack([observations[a] for a in env.possible_agents]), twin.observe()
        )
        chosen, _ = twin.expert()
        result = twin.step(chosen)
        actions = dict(zip(env.possible_agents, chosen.tolist(), strict=True))
        observations, rewards, _, truncated, infos = env.step(actions)
        assert [rewards[a] for a in env.possible_agents] == result.task_completed.tolist()
        assert infos[env.possible_agents[0]]["welfare"] == result.metrics["welfare"]
    assert all(truncated.values()) and env.agents == []
    with pytest.raises(InvalidInputError, match="episode is over"):
        env.step(actions)


def test_bad_input_is_a_clear_error():
    with pytest.raises(UnknownNameError, match="unknown economy 'casino'"):
        EconomyParallelEnv("casino")
    env = EconomyParallelEnv("pricing", n_agents=10, rounds=3)
    env.reset(seed=0)
    with pytest.raises(InvalidInputError, match="missing"):
        env.step({})


def test_the_pettingzoo_example_plays_a_scripted_policy_to_the_end():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).parents[3]
    done = subprocess.run([sys.executable, "examples/pettingzoo_supply_chain.py"], cwd=root,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-1500:]
    assert done.stdout.startswith("task completion 0.") and "welfare -" in done.stdout


def test_a_reset_without_a_seed_plays_the_next_seed():
    env = EconomyParallelEnv("exchange", n_agents=10, rounds=2)
    first, _ = env.reset(seed=5)
    second, _ = env.reset()
    again, _ = EconomyParallelEnv("exchange", n_agents=10, rounds=2).reset(seed=6)
    agent = env.possible_agents[0]
    assert not np.array_equal(first[agent], second[agent])
    np.testing.assert_array_equal(second[agent], again[agent])
