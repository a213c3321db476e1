"""The attention-concentration detector: synthetic shares, then the shipped forest's own
attention when one agent's summary is pushed onto a tree slot's query."""

from pathlib import Path

import numpy as np
import pytest
import torch

from defenses import RoundSignals, make_defense, round_signals
from forest.checkpoints import load_policy
from forest.economy import make_economy
from forest.errors import InvalidInputError
from forest.interventions import Interventions
from redteam.counterfactual import clean_signals
from redteam.episodes import fresh_policy

CHECKPOINT = Path(__file__).parents[2] / "checkpoints" / "small"


def _signals(rng, n=100, boost=None):
    roles = np.repeat([0, 3], n // 2)
    share = np.exp(0.2 * rng.standard_normal(n))
    if boost is not None:
        share[:5] *= boost
    return RoundSignals(0, np.zeros((n, 4), np.float32), roles, np.zeros(n), share)


def test_agents_taking_several_fair_shares_score_above_every_clean_agent():
    rng = np.random.default_rng(0)
    detector = make_defense("attention-concentration")
    detector.fit([_signals(rng) for _ in range(10)])
    scores = detector.score(_signals(rng, boost=4.0))
    assert scores[:5].min() > scores[5:].max()


def test_a_model_without_slot_attention_is_a_clear_error():
    detector = make_defense("attention-concentration")
    blind = RoundSignals(0, np.zeros((2, 4), np.float32), np.array([0, 0]), np.zeros(2))
    with pytest.raises(InvalidInputError, match="no slot attention"):
        detector.fit([blind])


def test_a_summary_pushed_onto_a_slot_query_is_the_most_suspicious_agent_of_the_round():
    policy = load_policy(CHECKPOINT)
    detector = make_defense("attention-concentration")
    detector.fit(
        clean_signals(make_economy("supply_chain", 1, n_agents=60), fresh_policy(policy, True), 8)
    )
    economy = make_economy("supply_chain", 0, n_agents=60)
    played = fresh_policy(policy, True)
    for _ in range(3):
        step = played.act(economy)
        economy.step(step.actions, step.messages)
    aggregator = played.model.aggregator
    with torch.no_grad():
        query = aggregator.tree_attn.q_proj(aggregator.tree_slots)[0]  # slot 0, all heads
        toward = aggregator.tree_attn.k_proj.weight.T @ query  # what raises every head's score
    delta = torch.zeros(60, played.model.config.hidden_size)
    delta[7] = 50.0 * toward / toward.norm()
    step = played.act(economy, Interventions(summary_delta=delta))
    scores = detector.score(round_signals(3, step.output, economy.role, step.actions))
    assert int(np.argmax(scores)) == 7
