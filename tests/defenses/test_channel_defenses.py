"""Channel defenses on real supply-chain traffic: authentication refuses exactly what an attack
wrote in honest agents' names, and a rate limit drops a flooder's round and nobody else's."""

import numpy as np
import pytest

from attacks import AttackView, make_attack
from defenses import Channel, make_defense
from forest.economy import Messages, make_economy
from forest.errors import ConfigError

N = 60


@pytest.fixture(scope="module")
def traffic():
    economy = make_economy("supply_chain", 0, n_agents=N)
    economy.step(*economy.expert())
    return economy, economy.expert()[1]


def _attacked(traffic, attack, compromised, **params):
    economy, messages = traffic
    view = AttackView(0, economy, np.asarray(compromised), None, np.random.default_rng(0))
    edited = make_attack(attack, params).messages(view, messages)
    return Channel(0, N, messages, edited, np.asarray(compromised))


def _reporter(messages):
    return int(messages.sender[messages.kinds == 1][0])


def test_authentication_delivers_clean_traffic_untouched(traffic):
    _, messages = traffic
    channel = Channel(0, N, messages, messages, np.zeros(0, dtype=np.int64))
    kept = make_defense("message-authentication").filter_messages(channel)
    assert np.array_equal(kept.tokens, messages.tokens)


def test_authentication_refuses_reports_rewritten_in_honest_names(traffic):
    channel = _attacked(traffic, "spoofed-reports", [_reporter(traffic[1])])
    tampered = (channel.edited.tokens != channel.sent.tokens).any(axis=1)
    assert tampered.sum() >= 2
    kept = make_defense("message-authentication").filter_messages(channel)
    assert len(kept) == len(channel.edited) - tampered.sum()
    assert set(map(tuple, kept.tokens.tolist())) <= set(map(tuple, channel.sent.tokens.tolist()))


def test_authentication_lets_lies_under_the_attackers_own_name_through(traffic):
    channel = _attacked(traffic, "phantom-orders", [_reporter(traffic[1])], factor=3.0)
    assert (channel.edited.tokens != channel.sent.tokens).any()
    kept = make_defense("message-authentication").filter_messages(channel)
    assert np.array_equal(kept.tokens, channel.edited.tokens)


def test_rate_limit_drops_the_flooders_round_and_nobody_elses(traffic):
    flooder = _reporter(traffic[1])
    channel = _attacked(traffic, "message-flooding", [flooder], copies=20)
    kept = make_defense("rate-limit", {"max_messages": 12}).filter_messages(channel)
    assert flooder not in kept.sender
    others = channel.edited.select(channel.edited.sender != flooder)
    assert np.array_equal(kept.tokens, others.tokens)


def test_rate_limit_leaves_honest_traffic_alone(traffic):
    _, messages = traffic
    channel = Channel(0, N, messages, messages, np.zeros(0, dtype=np.int64))
    assert len(make_defense("rate-limit").filter_messages(channel)) == len(messages)
    empty = Channel(0, N, Messages.empty(), Messages.empty(), np.zeros(0, dtype=np.int64))
    assert len(make_defense("rate-limit").filter_messages(empty)) == 0


def test_bad_channel_defense_params_are_clear_errors():
    with pytest.raises(ConfigError, match="max_messages"):
        make_defense("rate-limit", {"max_messages": 0})
    with pytest.raises(ConfigError, match="key_seed"):
        make_defense("message-authentication", {"key_seed": -1})
