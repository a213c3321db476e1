import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from attacks import AttackView, RoundOutcome, make_attack
from forest.economy import make_economy


def _view(economy, compromised, round_=0, seed=0):
    return AttackView(round_, economy, np.asarray(compromised), None, np.random.default_rng(seed))


@given(norm=st.floats(0.0, 1e4), seed=st.integers(0, 2**16))
def test_latent_noise_has_exactly_the_given_norm_on_compromised_rows_and_zero_elsewhere(norm, seed):
    economy = make_economy("exchange", 0, n_agents=30)
    attack = make_attack("latent-noise", {"norm": norm})
    delta = attack.summary_delta(_view(economy, [2, 17], seed=seed), 16)
    lengths = torch.linalg.vector_norm(delta.double(), dim=1)
    assert torch.allclose(
        lengths[[2, 17]], torch.tensor([norm, norm], dtype=torch.float64), rtol=1e-5
    )
    others = torch.ones(30, dtype=torch.bool)
    others[[2, 17]] = False
    assert lengths[others].max() == 0.0


def test_latent_noise_waits_for_its_start_round():
    economy = make_economy("exchange", 0, n_agents=30)
    attack = make_attack("latent-noise", {"norm": 3.0, "start_round": 4})
    assert attack.summary_delta(_view(economy, [1], round_=3), 8) is None
    assert attack.summary_delta(_view(economy, [1], round_=4), 8) is not None


def test_order_spike_multiplies_only_compromised_actions_within_the_action_range():
    economy = make_economy("supply_chain", 0, n_agents=30)
    attack = make_attack("compromised-order-spike", {"factor": 3.0})
    actions = np.full(30, 10, dtype=np.int64)
    actions[5] = 0  # a compromised agent that would order nothing still spikes
    spiked = attack.actions(_view(economy, [5, 6]), actions)
    unit = economy.action_unit()
    assert spiked[6] == np.rint(30)
    assert spiked[5] == min(np.rint(unit[5] * 3.0), economy.n_actions - 1)
    assert np.array_equal(np.delete(spiked, [5, 6]), np.delete(actions, [5, 6]))
    huge = make_attack("compromised-order-spike", {"factor": 1000.0})
    assert huge.actions(_view(economy, [6]), actions)[6] == economy.n_actions - 1


def test_order_spike_with_a_period_acts_every_period_rounds_from_its_start():
    economy = make_economy("pricing", 0, n_agents=20)
    attack = make_attack("compromised-order-spike", {"period": 3, "start_round": 2})
    actions = np.full(20, 2, dtype=np.int64)
    acted = [
        not np.array_equal(attack.actions(_view(economy, [0], round_=r), actions), actions)
        for r in range(9)
    ]
    assert acted == [False, False, True, False, False, True, False, False, True]


@pytest.mark.parametrize(
    ("name", "attacked", "twin", "done", "twin_done", "expected"),
    [
        ("compromised-order-spike", [5, 5], [4, 4], [1, 1], [1, 1], True),
        ("compromised-order-spike", [4, 4], [4, 4], [1, 1], [1, 1], False),
        ("latent-noise", [4, 4], [4, 4], [0, 1], [1, 1], True),
        ("latent-noise", [9, 9], [4, 4], [1, 1], [1, 1], False),
    ],
)
def test_success_tests_compare_honest_agents_with_the_twin(
    name, attacked, twin, done, twin_done, expected
):
    outcome = RoundOutcome(
        round=3,
        honest=np.array([True, True]),
        roles=np.array([3, 3]),
        actions=np.array(attacked),
        twin_actions=np.array(twin),
        completed=np.array(done, dtype=bool),
        twin_completed=np.array(twin_done, dtype=bool),
        action_unit=np.ones(2),
    )
    assert make_attack(name).succeeded(outcome) is expected
