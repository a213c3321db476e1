import numpy as np
import torch
from budget import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from attacks import AttackView, make_attack
from attacks.latent import latent_round
from attacks.sybils import sybil_logits
from forest.economy import make_economy


def _view(policy, round_=3, seed=0):
    economy = make_economy("supply_chain", 0, n_agents=60)
    for _ in range(round_):
        step = policy.act(economy)
        economy.step(step.actions, step.messages)
    return AttackView(round_, economy, np.array([7]), policy, np.random.default_rng(seed))


@settings(max_examples=examples(8, fuzz=200), deadline=None)
@given(count=st.integers(1, 20), max_norm=st.floats(0.05, 3.0))
def test_sybils_respect_their_count_and_norm_budget(policy, count, max_norm):
    attack = make_attack("sybils", {"count": count, "max_norm": max_norm, "steps": 2},
                         {"knowledge": "white-box"})  # fmt: skip
    view = _view(policy, round_=1)
    fakes, trees = attack.sybils(view, policy.model.config.hidden_size)
    assert fakes.shape == (count, policy.model.config.hidden_size) and trees.shape == (count,)
    budget = max_norm * latent_round(view).typical_norm
    assert bool((torch.linalg.vector_norm(fakes, dim=1) <= budget * (1 + 1e-5)).all())
    assert set(trees.tolist()) <= set(view.economy.tree_ids().tolist())


def test_optimised_sybils_move_honest_decisions_more_than_their_starting_copies(policy):
    view = _view(policy)
    attack = make_attack("sybils", {"count": 5, "steps": 20}, {"knowledge": "white-box"})
    fakes, trees = attack.sybils(view, policy.model.config.hidden_size)
    lr = latent_round(view)
    objective = attack.objective
    copies = lr.summaries[attack.seeds]
    gain_copies = objective.gain(sybil_logits(view, lr, copies, trees), lr.clean_logits,
                                 lr.honest, lr.roles)  # fmt: skip
    gain_crafted = objective.gain(sybil_logits(view, lr, fakes, trees), lr.clean_logits,
                                  lr.honest, lr.roles)  # fmt: skip
    assert gain_crafted.item() > 2 * gain_copies.item()


def test_sybils_keep_their_trees_for_the_whole_episode_and_wait_for_start(policy):
    attack = make_attack("sybils", {"count": 4, "steps": 1, "start_round": 3},
                         {"knowledge": "white-box"})  # fmt: skip
    assert attack.sybils(_view(policy, round_=2), 128) is None
    _, first = attack.sybils(_view(policy, round_=3), 128)
    _, later = attack.sybils(_view(policy, round_=4), 128)
    assert torch.equal(first, later)
