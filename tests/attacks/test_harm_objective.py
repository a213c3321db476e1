"""The ``harm`` objective: white-box attacks climb the economy's welfare surrogate, and succeed
when the round's welfare falls by a share of the twin's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attacks import OBJECTIVES, AttackView, RoundOutcome, make_attack
from attacks.latent import PGDParams, latent_round, logits_with_delta, pgd, welfare_over_classes
from forest.actions import actions_to_classes, classes_to_actions
from forest.economy import make_economy
from forest.economy.supply_chain import SupplyChain
from forest.errors import ConfigError

HARM = OBJECTIVES["harm"]


@pytest.fixture(scope="module")
def view(world) -> AttackView:
    economy, played, ids = world
    return AttackView(3, economy, ids, played, np.random.default_rng(0))


def _harm(view: AttackView, rows: torch.Tensor) -> float:
    lr = latent_round(view)
    logits = logits_with_delta(view, lr, rows)
    return HARM.gain(logits, lr.clean_logits, lr.honest, lr.roles, lr.welfare).item()


def test_no_perturbation_is_no_harm(view):
    lr = latent_round(view)
    assert _harm(view, torch.zeros(lr.ids.numel(), lr.summaries.shape[1])) == 0.0


def test_pgd_on_harm_beats_random_directions_of_its_budget(view):
    lr = latent_round(view)
    params = PGDParams(objective="harm", epsilon=1.0, steps=20)
    rows = pgd(view, lr, HARM, params)
    rng = np.random.default_rng(3)
    radius = params.epsilon * lr.typical_norm
    random_best = max(
        _harm(view, torch.nn.functional.normalize(
            torch.from_numpy(rng.standard_normal(rows.shape)).float(), dim=1) * radius)
        for _ in range(20)
    )  # fmt: skip
    assert _harm(view, rows) > max(random_best, 0.0)


def test_welfare_drop_succeeds_past_its_share_of_the_twins_welfare():
    n = 4
    common = dict(round=0, honest=np.ones(n, bool), roles=np.zeros(n, int),
                  actions=np.zeros(n), twin_actions=np.zeros(n), completed=np.ones(n, bool),
                  twin_completed=np.ones(n, bool), action_unit=np.ones(n))  # fmt: skip
    assert HARM.succeeded(RoundOutcome(**common, welfare=-10.6, twin_welfare=-10.0))
    assert not HARM.succeeded(RoundOutcome(**common, welfare=-10.4, twin_welfare=-10.0))
    assert HARM.succeeded(RoundOutcome(**common, welfare=0.9, twin_welfare=1.0))


class _NoSurrogate(SupplyChain):
    def welfare_surrogate(self):
        return None


def test_harm_on_an_economy_without_a_surrogate_is_a_config_error():
    economy = _NoSurrogate(make_economy("supply_chain", 0, n_agents=30).config, 0)
    attack = make_attack("latent-pgd", {"objective": "harm"}, {"knowledge": "white-box"})
    with pytest.raises(ConfigError, match="welfare surrogate"):
        attack.check(economy, 10)


def test_the_harm_gain_reads_model_classes_as_the_actions_they_stand_for(world):
    """A class is ``action_unit`` of an action (half a unit per retailer served in the
    supply chain): the surrogate must price the order a class means, not its index."""
    economy, played, _ = world
    n_classes = played.model.config.n_actions
    orders, _ = economy.expert()
    classes = actions_to_classes(economy, orders, n_classes)
    over_classes = welfare_over_classes(economy, n_classes)
    by_class = over_classes(
        torch.nn.functional.one_hot(torch.from_numpy(classes), n_classes).float()
    )
    meant = classes_to_actions(economy, classes)
    by_action = economy.welfare_surrogate()(
        torch.nn.functional.one_hot(torch.from_numpy(meant), economy.n_actions).float()
    )
    assert float(by_class) == pytest.approx(float(by_action), rel=1e-6)
    assert np.abs(economy.action_unit() - 1).max() > 0.4  # the classes are not the actions
