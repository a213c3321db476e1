"""How far the compromised agents' messages get: sent, delivered by the router, read."""

from __future__ import annotations

import numpy as np
import pytest

from attacks import make_attack
from forest.checkpoints import load_policy
from forest.economy import make_economy
from forest.economy.messages import MESSAGE_LEN
from forest.policy import ForestPolicy
from redteam.counterfactual import play_attacked, play_twin
from redteam.delivery import GROUPS, STAGES, MessageReach, message_reach_scalars
from redteam.episodes import NOBODY, Player, play_episode

ROUNDS = 5
SENT, DELIVERED, READ = (STAGES.index(s) for s in ("sent", "delivered", "read"))
COMPROMISED, HONEST = (GROUPS.index(g) for g in ("compromised", "honest"))


@pytest.fixture(scope="module")
def shipped():
    return load_policy("checkpoints/small")


def attacked(shipped, attack: str, use_router: bool = True):
    twin = play_twin(make_economy("supply_chain", 0, n_agents=40), shipped, ROUNDS)
    router = shipped.router if use_router else None
    fresh = ForestPolicy(shipped.model, shipped.tokenizer, router)
    economy = make_economy("supply_chain", 0, n_agents=40)
    attack = make_attack(attack, {}, {"fraction": 0.2})
    return play_attacked(economy, fresh, attack, None, twin, np.random.default_rng(0))


@pytest.fixture(scope="module")
def routed(shipped):
    return attacked(shipped, "phantom-orders")


def test_every_message_sent_and_delivered_is_counted_once(routed):
    """The counts by sender add up to the episode's token totals, counted apart."""
    record = routed
    reach = record.message_reach
    assert reach.shape == (ROUNDS, len(STAGES), len(GROUPS))
    assert reach[:, SENT].sum() * MESSAGE_LEN == record.tokens_offered
    assert reach[:, DELIVERED].sum() * MESSAGE_LEN == record.tokens_delivered
    assert reach[:, SENT, COMPROMISED].sum() > 0


def test_the_router_filters_and_without_it_every_sent_message_is_delivered(shipped, routed):
    reach = routed.message_reach
    assert (reach[:, DELIVERED] <= reach[:, SENT]).all()
    assert reach[:, DELIVERED].sum() < reach[:, SENT].sum()
    unrouted = attacked(shipped, "phantom-orders", use_router=False).message_reach
    np.testing.assert_array_equal(unrouted[:, DELIVERED], unrouted[:, SENT])


def test_a_round_reads_no_more_than_the_last_round_delivered(routed):
    reach = routed.message_reach
    assert (reach[1:, READ] <= reach[:-1, DELIVERED]).all()
    assert reach[0, READ].sum() == 0  # the first round's inbox is empty


def test_with_nobody_compromised_every_message_is_honest(shipped):
    reach = MessageReach(NOBODY)
    economy = make_economy("supply_chain", 0, n_agents=40)
    policy = ForestPolicy(shipped.model, shipped.tokenizer, shipped.router)
    play_episode(economy, ROUNDS, Player(policy), NOBODY, observers=[reach])
    counts = reach.per_round()
    assert counts[:, :, COMPROMISED].sum() == 0
    assert counts[:, SENT, HONEST].sum() > 0


def test_the_scalars_are_the_totals_and_the_delivered_shares():
    per_round = np.zeros((2, len(STAGES), len(GROUPS)))
    per_round[:, SENT] = [[4, 10], [6, 10]]
    per_round[:, DELIVERED] = [[1, 5], [0, 5]]
    per_round[:, READ] = [[0, 0], [1, 4]]
    scalars = message_reach_scalars(per_round)
    assert scalars["messages_sent_compromised"] == 10
    assert scalars["messages_read_honest"] == 4
    assert scalars["delivered_share_compromised"] == pytest.approx(0.1)
    assert scalars["delivered_share_honest"] == pytest.approx(0.5)
    per_round[:, :, COMPROMISED] = 0
    assert np.isnan(message_reach_scalars(per_round)["delivered_share_compromised"])
