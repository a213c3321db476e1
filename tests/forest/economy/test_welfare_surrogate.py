"""The one-round welfare surrogates that white-box attacks climb (``Economy.welfare_surrogate``):
each is checked against what it stands in for."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from forest.economy import make_economy


def _mid_episode(name: str, seed: int = 0, rounds: int = 4):
    economy = make_economy(name, seed)
    for _ in range(rounds):
        economy.step(*economy.expert())
    return economy


def _one_hot(actions: np.ndarray, n_actions: int) -> torch.Tensor:
    return F.one_hot(torch.from_numpy(actions), n_actions).float()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pricing_surrogate_is_the_steps_consumer_surplus_at_sure_prices(seed: int) -> None:
    economy = _mid_episode("pricing", seed)
    actions = economy.policy_rng.integers(0, economy.n_actions, economy.n_agents)
    surrogate = economy.welfare_surrogate()(_one_hot(actions, economy.n_actions))
    stepped = copy.deepcopy(economy).step(actions).metrics["welfare"]
    assert float(surrogate) == pytest.approx(stepped, rel=1e-5)


def test_supply_chain_surrogate_is_best_at_the_base_stock_order() -> None:
    """Its per-agent cost is lowest at the plain order-up-to order, the newsvendor's optimum
    at the expert's target (the default expert orders exactly that)."""
    economy = _mid_episode("supply_chain")
    probs = torch.full((economy.n_agents, economy.n_actions), 1.0 / economy.n_actions)
    probs.requires_grad_(True)
    economy.welfare_surrogate()(probs).backward()
    best = probs.grad.argmax(dim=1).numpy()  # the gradient is minus each class's cost / n
    expert_orders, _ = economy.expert()
    assert np.abs(best - expert_orders).max() <= 1  # rounding the target either way


def test_supply_chain_surrogate_charges_overordering_at_holding_and_shortage_at_backlog() -> None:
    economy = _mid_episode("supply_chain")
    cfg = economy.config
    expert_orders, _ = economy.expert()
    welfare = economy.welfare_surrogate()
    base = float(welfare(_one_hot(expert_orders, economy.n_actions)))
    up = np.minimum(expert_orders + 3, economy.n_actions - 1)
    down = np.maximum(expert_orders - 3, 0)
    over = base - float(welfare(_one_hot(up, economy.n_actions)))
    under = base - float(welfare(_one_hot(down, economy.n_actions)))
    # Per agent, at most 3 units (plus half a unit of rounding) at the unit price.
    assert 0 < over <= cfg.holding_cost * 3.5 + 1e-6
    assert 0 < under <= cfg.backlog_cost * 3.5 + 1e-6


def test_exchange_surrogate_loses_every_trade_when_offers_block_them() -> None:
    economy = _mid_episode("exchange")
    expert_offers, _ = economy.expert()
    welfare = economy.welfare_surrogate()
    top = economy.n_actions - 1
    blocked = np.where(economy.is_buyer, 0, top)  # buyers bid least, sellers ask most
    assert float(welfare(_one_hot(expert_offers, economy.n_actions))) > 0
    assert float(welfare(_one_hot(blocked, economy.n_actions))) < float(
        welfare(_one_hot(expert_offers, economy.n_actions))
    )
