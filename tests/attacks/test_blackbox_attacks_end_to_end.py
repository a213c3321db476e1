"""End to end: each black-box attack played by the red-team runner against the shipped forest,
compared with its clean twin. Every attack must change something real, not just run."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from forest.economy import make_economy
from redteam.runner import run_cell
from redteam.suite import load_suite

CHECKPOINT = Path(__file__).parents[2] / "checkpoints" / "small"
ROUNDS = 8
AGENTS = 30


def _run(tmp_path: Path, economy: str, attack: str, params: str, threat: str):
    suite = tmp_path / "suite.toml"
    suite.write_text(
        f"""
[suite]
name = "blackbox-e2e"
checkpoint = "{CHECKPOINT}"
rounds = {ROUNDS}
seeds = 1

[[economies]]
name = "{economy}"
agents = {AGENTS}

[[attacks]]
name = "{attack}"
params = {params}
threat = {threat}

[metrics]
blast_radius_rounds = [2, 4]
"""
    )
    (cell,) = load_suite(suite).cells
    result = run_cell(cell)
    honest = np.ones(AGENTS, dtype=bool)
    honest[result.arrays["compromised"]] = False
    return result, honest


def test_price_inflation_posts_the_top_price_for_compromised_firms_every_round(tmp_path):
    result, honest = _run(tmp_path, "pricing", "price-inflation", "{}", "{ count = 3 }")
    actions, twin = result.arrays["actions"], result.arrays["twin_actions"]
    top = make_economy("pricing", 0, n_agents=AGENTS).n_actions - 1
    assert (actions[:, ~honest] == top).all()
    assert (twin[:, ~honest] < top).all()


def test_phantom_orders_spread_to_honest_agents_without_touching_the_liars_orders(tmp_path):
    result, honest = _run(
        tmp_path,
        "supply_chain",
        "phantom-orders",
        "{}",
        '{ count = 3, roles = ["retailer", "warehouse"] }',
    )
    actions, twin = result.arrays["actions"], result.arrays["twin_actions"]
    assert np.array_equal(actions[0], twin[0])  # reports are read one round later
    assert result.scalars["blast_radius_final"] > 0
    assert (actions[:, honest] != twin[:, honest]).any()


def test_inventory_lies_make_the_liars_over_order_and_move_honest_agents(tmp_path):
    result, honest = _run(tmp_path, "supply_chain", "inventory-lies", "{}", "{ count = 3 }")
    actions, twin = result.arrays["actions"], result.arrays["twin_actions"]
    assert actions[:, ~honest].sum() > twin[:, ~honest].sum()
    assert result.scalars["blast_radius_final"] > 0


def test_sleeper_is_invisible_until_it_wakes_then_spreads(tmp_path):
    result, honest = _run(tmp_path, "exchange", "sleeper", "{ wake_round = 3 }", "{ count = 3 }")
    actions, twin = result.arrays["actions"], result.arrays["twin_actions"]
    assert np.array_equal(actions[:3], twin[:3])
    assert (actions[3:, ~honest] != twin[3:, ~honest]).any(axis=1).all()
    assert result.curves["attack_success"][:3] == [0.0, 0.0, 0.0]
    assert result.scalars["blast_radius_final"] > 0


def test_message_flooding_moves_honest_agents_through_their_message_slots(tmp_path):
    result, honest = _run(
        tmp_path,
        "supply_chain",
        "message-flooding",
        "{}",
        '{ count = 3, roles = ["retailer", "warehouse"] }',
    )
    actions, twin = result.arrays["actions"], result.arrays["twin_actions"]
    assert result.scalars["blast_radius_final"] > 0
    assert (actions[:, honest] != twin[:, honest]).any()
