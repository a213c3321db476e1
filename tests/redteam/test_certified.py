"""The certified share in suites: measured on the defended twin under a certifiable pooling, for
the decisions the forest actually took, and NaN (not 0) where there is no certificate."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from defenses import make_defense
from defenses.certification import MARGIN_FLOOR
from forest.actions import classes_to_actions, valid_classes
from forest.checkpoints import load_policy
from redteam.certified import CertifiedDecisions
from redteam.episodes import NOBODY, Player, build_economy, fresh_policy, play_episode
from redteam.runner import CellRunner
from redteam.suite import load_suite

REPO_ROOT = Path(__file__).parents[2]


def test_certificates_vouch_for_the_decisions_the_defended_forest_took():
    """Invariant: each round's certificate is about the deployed forest's own decision; with no
    compromised agent the trimmed mean's bound is exact, so a decision is certified exactly
    where its clean logit gap over the runner-up clears the floor (near-ties are not)."""
    policy = fresh_policy(load_policy(REPO_ROOT / "checkpoints" / "small"), True)
    defense = make_defense("robust-aggregation", {"method": "trimmed-mean", "trim": 0.2})
    observer = CertifiedDecisions(policy.model, defense.robust_aggregation(), k=0)
    economy = build_economy("supply_chain", {"n_agents": 60}, 0)
    vouched = []

    class Vouched:
        """Runs after ``observer`` in the same round, before the economy steps."""

        def before_step(self, round_, economy, played):
            logits = played.step.output.action_logits.double()
            valid = torch.from_numpy(valid_classes(economy, logits.shape[1]))
            allowed = torch.arange(logits.shape[1])[None, :] < valid[:, None]
            top2 = logits.masked_fill(~allowed, -math.inf).topk(2, dim=1).values
            gap = (top2[:, 0] - top2[:, 1]).numpy()
            decided = classes_to_actions(economy, observer.chosen[-1])
            vouched.append((played.actions, decided, gap, observer.certified[-1]))

        def after_step(self, round_, economy, played, result):
            pass

    play_episode(economy, 4, Player(policy, defense=defense), NOBODY,
                 observers=[observer, Vouched()])  # fmt: skip
    assert len(observer.certified) == len(vouched) == 4
    for taken, decided, gap, certified in vouched:
        np.testing.assert_array_equal(taken, decided)
        clear = np.abs(gap - MARGIN_FLOOR) > 1e-5  # float32 logits against float64 bounds
        np.testing.assert_array_equal(certified[clear], (gap > MARGIN_FLOOR)[clear])
    assert np.concatenate([v[3] for v in vouched]).mean() > 0.9


@pytest.mark.slow
def test_the_certified_share_is_a_suite_metric_under_robust_pooling_only(tmp_path):
    suite = tmp_path / "certified.toml"
    suite.write_text(
        f"""
[suite]
name = "certified"
checkpoint = "{REPO_ROOT / "checkpoints" / "small"}"
rounds = 4
seeds = 1

[[economies]]
name = "supply_chain"
agents = 40

[[attacks]]
name = "latent-noise"
params = {{ start_round = 1 }}
threat = {{ fraction = 0.05 }}

[[defenses]]
name = "none"

[[defenses]]
name = "robust-aggregation"
params = {{ method = "trimmed-mean", trim = 0.2 }}

[metrics]
blast_radius_rounds = [2]
certified_k = 0
"""
    )
    runner = CellRunner()
    shares = {
        cell.defense: runner.run(cell).scalars["certified_share"]
        for cell in load_suite(suite).cells
    }
    assert math.isnan(shares[None])
    assert 0.9 < shares["robust-aggregation"] <= 1.0  # near-ties are never certified
