"""Mimic on the summary tokens: each attacker copies an honest tree peer, as ByzFL's Mimic."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from byzfl_reference import byzfl_module

from attacks import AttackView, make_attack
from attacks.latent import latent_round
from forest.errors import ConfigError

WHITE_BOX = {"knowledge": "white-box"}
WARMUP = 3


def _view(world):
    economy, played, chosen = world
    return AttackView(WARMUP, economy, chosen, played, np.random.default_rng(0))


def _tree_peers(view, lr, i):
    trees = lr.tree_ids.numpy()
    return lr.summaries[torch.from_numpy(np.flatnonzero(view.honest & (trees == trees[i])))]


@pytest.mark.parametrize("target", [0, 2])
def test_with_a_target_each_attacker_sends_what_byzfl_mimic_sends(world, target):
    mimic = byzfl_module("attacks").Mimic
    view = _view(world)
    delta = make_attack("mimic", {"target": target}, WHITE_BOX).summary_delta(view, 128)
    lr = latent_round(view)
    for i in view.compromised:
        peers = _tree_peers(view, lr, i)
        assert peers.shape[0] > target
        expected = mimic(epsilon=target)(peers.numpy())
        np.testing.assert_allclose((lr.summaries[i] + delta[i]).numpy(), expected, atol=1e-5)


def test_by_default_each_attacker_copies_the_peer_furthest_along_the_first_principal_axis(world):
    view = _view(world)
    delta = make_attack("mimic", {}, WHITE_BOX).summary_delta(view, 128)
    lr = latent_round(view)
    for i in view.compromised:
        peers = _tree_peers(view, lr, i).double().numpy()
        centred = peers - peers.mean(axis=0)
        axis = np.linalg.svd(centred, full_matrices=False)[2][0]
        chosen = peers[np.abs(centred @ axis).argmax()]
        np.testing.assert_allclose((lr.summaries[i] + delta[i]).numpy(), chosen, atol=1e-5)
    honest_rows = np.flatnonzero(view.honest)
    assert (delta[torch.from_numpy(honest_rows)] == 0).all()


def test_mimic_is_registered_and_validates_its_target():
    attack = make_attack("mimic", {}, WHITE_BOX)
    assert attack.surface == "summary tokens" and attack.knowledge == "white-box"
    with pytest.raises(ConfigError, match="target"):
        make_attack("mimic", {"target": -1}, WHITE_BOX)
