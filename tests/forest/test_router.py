import numpy as np
import pytest
import torch

from forest.economy import Messages, make_economy
from forest.economy.messages import DEMAND, ECHO
from forest.errors import ConfigError
from forest.router import Router
from forest.training.router_training import counterfactual_labels, train_router


def batch(kinds, values):
    sender = np.arange(len(kinds))
    return Messages(
        sender,
        sender + 1,
        np.concatenate(
            [Messages.make(k, [0], [1], [v]).tokens for k, v in zip(kinds, values, strict=True)]
        ),
    )


def test_keep_budget_caps_the_share_of_messages_kept():
    torch.manual_seed(0)
    router = Router(threshold=0.0, keep_budget=0.25)
    messages = batch([DEMAND] * 8, range(8))
    routed = router.route(messages, np.zeros(20, dtype=np.int64))
    assert len(routed.kept) == 2
    assert routed.tokens_in == 24 and routed.tokens_kept == 6
    np.testing.assert_array_equal(
        np.sort(routed.scores[routed.kept.sender]), np.sort(routed.scores)[-2:]
    )


def test_threshold_one_drops_everything_and_zero_keeps_everything():
    messages = batch([DEMAND, ECHO, DEMAND], [1, 2, 3])
    role = np.zeros(10, dtype=np.int64)
    assert len(Router(threshold=1.0).route(messages, role).kept) == 0
    assert len(Router(threshold=0.0).route(messages, role).kept) == 3


def test_routing_an_empty_batch_keeps_nothing_and_counts_nothing():
    routed = Router().route(Messages.empty(), np.zeros(3, dtype=np.int64))
    assert routed.tokens_in == 0 and routed.kept_share == 1.0


@pytest.mark.parametrize(("field", "value"), [("threshold", 1.5), ("keep_budget", -0.1)])
def test_bad_router_settings_are_named(field, value):
    with pytest.raises(ConfigError, match=field):
        Router(**{field: value})


def test_echoes_never_change_a_decision_and_demand_reports_sometimes_do():
    economy = make_economy("supply_chain", seed=4, n_agents=40)
    rng = np.random.default_rng(0)
    messages, _, labels = counterfactual_labels(economy, rounds=8, per_round=40, rng=rng)
    echo = messages.kinds == ECHO
    assert echo.any() and not labels[echo].any()
    assert labels[messages.kinds == DEMAND].any()


def test_trained_router_learns_to_drop_echoes_and_keep_reports():
    economy = make_economy("supply_chain", seed=5, n_agents=40)
    messages, roles, labels = counterfactual_labels(economy, 10, 40, np.random.default_rng(1))
    router = train_router(messages, roles, labels, epochs=150, seed=0)
    scores = router.keep_probability(messages, economy.role)
    assert scores[messages.kinds == ECHO].max() < 0.5
    assert scores[messages.kinds == DEMAND].mean() > scores[messages.kinds == ECHO].mean()
