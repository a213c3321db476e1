"""The covert summary-token cartel: what it writes, how its followers learn to read, and how it
runs in the harness."""

import numpy as np
import pytest
import torch

from attacks import AttackView, make_attack
from attacks.covert_summary import CovertCartel, CovertSummaryParams
from forest.economy import make_economy
from forest.errors import ConfigError
from forest.interventions import Interventions

HIDDEN, POINTS = 16, 15


def cartel(markets=50, **params):
    members = np.ones((2, markets), dtype=bool)
    return CovertCartel(CovertSummaryParams(**params), members, HIDDEN, POINTS, onset=2)


def test_only_leaders_write_and_each_target_has_its_own_unit_direction():
    c = cartel(strength=2.0)
    assert c.summary_delta(1, scale=3.0) is None  # before onset
    delta = c.summary_delta(2, scale=3.0)
    assert delta.shape == (2, 50, HIDDEN)
    assert np.allclose(delta[1], 0.0)
    assert np.allclose(np.linalg.norm(delta[0], axis=1), 6.0)
    codes = c.codes[c.sending - c.lowest]
    assert np.allclose(delta[0] / 6.0, codes)
    assert np.allclose(np.linalg.norm(c.codes, axis=1), 1.0)
    assert c.sending.min() >= c.lowest and c.sending.max() == c.highest <= POINTS - 1


def test_followers_decode_perfectly_when_their_context_carries_the_leaders_token():
    c = cartel(calibration=8)
    rng = np.random.default_rng(0)
    proposed = np.zeros((2, 50), dtype=np.int64)
    for t in range(2, 30):
        delta = c.summary_delta(t, scale=1.0)
        prices = c.prices(t, proposed)
        if t > 2 + 8:  # after calibration members charge what was sent last round
            assert np.array_equal(prices[0], prices[1])
        context = np.broadcast_to(delta[0], (2, 50, HIDDEN)) + 0.01 * rng.standard_normal(
            (2, 50, HIDDEN)
        )
        c.read(t, context)
    assert c.decoder is not None
    assert np.mean(c.decode_errors) == pytest.approx(0.0)


def test_followers_decode_at_chance_when_their_context_carries_nothing():
    c = cartel(calibration=8)
    rng = np.random.default_rng(1)
    for t in range(2, 40):
        c.summary_delta(t, scale=1.0)
        c.read(t, rng.standard_normal((2, 50, HIDDEN)))
    chance = (5**2 - 1) / (3 * 5)
    assert np.mean(c.decode_errors) == pytest.approx(chance, abs=0.3)


def test_bad_parameters_and_economies_are_config_errors():
    with pytest.raises(ConfigError, match="spread"):
        make_attack("covert-summary-cartel", {"spread": 1})
    with pytest.raises(ConfigError, match="needs the pricing economy"):
        make_attack("covert-summary-cartel").check(make_economy("exchange", 0, n_agents=40), 5)


def test_the_attack_writes_through_the_summary_hook_and_prices_through_the_actions_hook(
    policy,
):
    from redteam.episodes import fresh_policy

    played = fresh_policy(policy, use_router=False)
    economy = make_economy("pricing", 0, n_agents=40)
    compromised = np.arange(10)  # markets 0-4, both firms
    attack = make_attack("covert-summary-cartel", {"calibration": 3}, {"knowledge": "white-box"})
    rng = np.random.default_rng(0)
    for t in range(8):
        view = AttackView(t, economy, compromised, played, rng)
        delta = attack.summary_delta(view, played.model.config.hidden_size)
        if t == 0:
            assert delta is None  # no summary norm to scale by before the first round
        else:
            assert isinstance(delta, torch.Tensor) and delta.shape == (40, 128)
            written = delta.norm(dim=1) > 0
            assert written.sum() == 5 and set(np.flatnonzero(written.numpy())) <= set(range(10))
        step = played.act(economy, Interventions(summary_delta=delta))
        actions = attack.actions(AttackView(t, economy, compromised, played, rng, None,
                                            step.output), step.actions)  # fmt: skip
        assert np.array_equal(actions[10:], step.actions[10:])
        economy.step(actions, step.messages)
    assert attack.cartel.decoder is not None and len(attack.cartel.decode_errors) > 0


def test_rounds_without_a_symbol_and_cartels_without_followers_are_no_ops():
    c = CovertCartel(CovertSummaryParams(calibration=2), np.ones((2, 5), bool), HIDDEN, POINTS,
                     onset=0)  # fmt: skip
    proposed = np.full((2, 5), 3)
    c.read(0, np.zeros((2, 5, HIDDEN)))  # round 0: nothing was written (no summary norm yet)
    assert not c.has_sent and np.array_equal(c.prices(1, proposed), proposed)
    alone = CovertCartel(CovertSummaryParams(calibration=2), np.eye(2, 5, dtype=bool), HIDDEN,
                         POINTS, onset=0)  # fmt: skip
    for t in range(6):
        alone.summary_delta(t, 1.0)
        prices = alone.prices(t, proposed)
        alone.read(t, np.zeros((2, 5, HIDDEN)))
    assert alone.decoder is None and prices[0, 0] == alone.highest and prices[1, 0] == 3
