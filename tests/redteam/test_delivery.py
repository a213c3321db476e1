"""How far the compromised agents' messages get: sent, delivered by the router, read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from attacks import make_attack
from defenses import make_defense
from forest.checkpoints import load_policy
from forest.economy import Messages, make_economy
from forest.economy.messages import DEMAND, MESSAGE_LEN
from forest.policy import ForestPolicy
from forest.tokenizer import MESSAGE_SLOTS
from redteam.counterfactual import play_attacked, play_twin
from redteam.delivery import GROUPS, STAGES, MessageReach, by_group, message_reach_scalars
from redteam.episodes import Played
from redteam.runner import CellRunner
from redteam.suite import load_suite

ROUNDS = 5
AGENTS = 40
SENT, DELIVERED, READ = (STAGES.index(s) for s in ("sent", "delivered", "read"))
COMPROMISED, HONEST = (GROUPS.index(g) for g in ("compromised", "honest"))


@pytest.fixture(scope="module")
def shipped():
    return load_policy("checkpoints/small")


def attacked(shipped, attack, defense=None, rounds=ROUNDS, use_router=True):
    router = shipped.router if use_router else None
    fresh = ForestPolicy(shipped.model, shipped.tokenizer, router)
    twin = play_twin(make_economy("supply_chain", 0, n_agents=AGENTS), fresh, rounds)
    economy = make_economy("supply_chain", 0, n_agents=AGENTS)
    attack = make_attack(attack, {}, {"fraction": 0.2})
    return play_attacked(economy, fresh, attack, defense, twin, np.random.default_rng(0)), twin


@pytest.fixture(scope="module")
def routed(shipped):
    return attacked(shipped, "phantom-orders")


def test_every_message_sent_and_delivered_is_counted_once(routed):
    """The counts by sender add up to the episode's token totals, counted apart."""
    record, twin = routed
    reach = record.message_reach
    assert reach.shape == (ROUNDS, len(STAGES), AGENTS)
    assert reach[:, SENT].sum() * MESSAGE_LEN == record.tokens_offered
    assert reach[:, DELIVERED].sum() * MESSAGE_LEN == record.tokens_delivered
    assert reach[:, SENT, record.compromised].sum() > 0
    assert twin.message_reach.shape == reach.shape


def test_sent_is_what_the_defenses_filter_let_through(shipped):
    """One round of flooding: a rate limit refuses messages, and they are not sent."""
    flood, _ = attacked(shipped, "message-flooding", rounds=1)
    limit = make_defense("rate-limit", {"max_messages": 2})
    limited, _ = attacked(shipped, "message-flooding", limit, rounds=1)
    assert limited.rejected > 0
    sent = flood.message_reach[0, SENT].sum() - limited.message_reach[0, SENT].sum()
    assert sent == limited.rejected


def test_the_router_filters_and_without_it_every_sent_message_is_delivered(shipped, routed):
    reach = routed[0].message_reach
    assert (reach[:, DELIVERED] <= reach[:, SENT]).all()
    assert reach[:, DELIVERED].sum() < reach[:, SENT].sum()
    unrouted = attacked(shipped, "phantom-orders", use_router=False)[0].message_reach
    np.testing.assert_array_equal(unrouted[:, DELIVERED], unrouted[:, SENT])


def test_a_round_reads_the_slotted_part_of_what_the_last_round_delivered(routed):
    reach = routed[0].message_reach
    assert reach[0, READ].sum() == 0  # the first round's inbox is empty
    assert (reach[1:, READ] <= reach[:-1, DELIVERED]).all()
    assert reach[1:, READ].sum() < reach[:-1, DELIVERED].sum()  # some receivers got more


def test_a_hand_made_round_is_counted_by_sender_and_slot():
    # Receiver 2's inbox this round: four messages from sender 0 (one beyond the slots), then
    # one from sender 1. This round sender 1 sends two and the router keeps one.
    economy = make_economy("supply_chain", 0, n_agents=3)
    # Receiver 0's one message, from sender 1, sits among receiver 2's: it is read too.
    senders, receivers = [0, 1, 0, 0, 0, 1], [2, 0, 2, 2, 2, 2]
    economy.inbox = Messages.make(DEMAND, senders, receivers, np.ones(6))
    sent = Messages.make(DEMAND, [1, 1], [0, 2], np.ones(2))

    class Step:
        messages = sent.select(np.array([0]))

    reach = MessageReach(3)
    reach.before_step(0, economy, Played(Step(), np.zeros(3), 0.0, 0, sent))
    counts = reach.per_round()[0]
    np.testing.assert_array_equal(counts[SENT], [0, 2, 0])
    np.testing.assert_array_equal(counts[DELIVERED], [0, 1, 0])
    assert MESSAGE_SLOTS == 3  # the first three of receiver 2's five, all sender 0's
    np.testing.assert_array_equal(counts[READ], [3, 1, 0])


def test_the_scalars_are_the_totals_and_the_delivered_shares():
    per_round = np.zeros((2, len(STAGES), 4))
    per_round[:, SENT] = [[4, 0, 5, 5], [6, 0, 5, 5]]
    per_round[:, DELIVERED] = [[1, 0, 2, 3], [0, 0, 2, 3]]
    per_round[:, READ] = [[0, 0, 0, 0], [1, 0, 2, 2]]
    twin = per_round.copy()
    twin[:, DELIVERED, 0] = [5, 5]
    compromised = np.array([0, 1])
    np.testing.assert_array_equal(by_group(per_round, compromised)[SENT], [10, 20])
    scalars = message_reach_scalars(per_round, twin, compromised)
    assert scalars["messages_sent_compromised"] == 10
    assert scalars["messages_read_honest"] == 4
    assert scalars["delivered_share_compromised"] == pytest.approx(0.1)
    assert scalars["delivered_share_honest"] == pytest.approx(0.5)
    assert scalars["delivered_share_compromised_twin"] == pytest.approx(1.0)
    per_round[:, :, compromised] = 0
    silent = message_reach_scalars(per_round, None, compromised)
    assert np.isnan(silent["delivered_share_compromised"])
    assert np.isnan(silent["delivered_share_compromised_twin"])


def test_a_cell_counts_from_the_attacks_start_and_a_null_attack_moves_no_share(
    tmp_path, monkeypatch
):
    root = Path(__file__).parents[2]
    monkeypatch.chdir(root)
    suite = tmp_path / "reach.toml"
    suite.write_text(f"""
[suite]
name = "reach"
checkpoint = "{root / "checkpoints" / "small"}"
rounds = 6
seeds = 1

[[economies]]
name = "supply_chain"
agents = 40

[[attacks]]
name = "null"
params = {{ start_round = 2 }}
threat = {{ fraction = 0.2 }}

[[attacks]]
name = "phantom-orders"
params = {{ start_round = 2 }}
threat = {{ fraction = 0.2 }}

[metrics]
blast_radius_rounds = [2]
""")
    runner = CellRunner()
    for cell in load_suite(suite).cells:
        result = runner.run(cell)
        for stage in STAGES:
            for group in GROUPS:
                curve = result.curves[f"messages_{stage}_{group}"]
                assert result.scalars[f"messages_{stage}_{group}"] == sum(curve[2:])
        assert result.curves["messages_read_compromised"][0] == 0  # nothing delivered yet
        scalars = result.scalars
        if cell.attack == "null":  # the same episode as the twin
            assert (
                scalars["delivered_share_compromised"]
                == scalars["delivered_share_compromised_twin"]
            )
        else:
            assert scalars["messages_sent_compromised"] > 0
