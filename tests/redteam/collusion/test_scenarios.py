"""Scenarios refuse impossible families of markets, naming the field."""

import pytest

from forest.errors import ConfigError
from redteam.collusion.scenarios import Scenario


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "x", "collusive": True}, "competitive scenario 'x' cannot be collusive"),
        ({"name": "x", "collusive": False, "kind": "cartel"}, "must be collusive"),
        ({"name": "x", "collusive": False, "kind": "auction"}, "kind: expected one of"),
        ({"name": "x", "collusive": True, "kind": "cartel", "members": 3}, "members"),
        ({"name": "x", "collusive": False, "firms": 25}, "firms"),
        ({"name": "x", "collusive": True, "kind": "q-learning", "firms": 5}, "n_firms"),
        (
            {"name": "x", "collusive": True, "kind": "cartel", "economy": "exchange"},
            "kind: expected one of competitive, bid-rotation in exchange",
        ),
        ({"name": "x", "collusive": False, "economy": "auction"}, "economy: expected one of"),
        ({"name": "x", "collusive": False, "costs": (1.0,)}, "costs"),
        ({"name": "x", "collusive": True, "kind": "cartel", "level": 2.0}, "level"),
        ({"name": "x", "collusive": False, "kind": "profit-forest"}, 'needs policy = "forest"'),
        (
            {
                "name": "x",
                "collusive": False,
                "kind": "profit-forest",
                "policy": "forest",
                "firms": 3,
            },
            "trains duopolies",
        ),
        (
            {
                "name": "x",
                "collusive": False,
                "kind": "profit-forest",
                "policy": "forest",
                "costs": (0.9, 1.1),
            },
            "default market",
        ),
        (
            {
                "name": "x",
                "collusive": False,
                "kind": "profit-forest",
                "policy": "forest",
                "seating": "cartel",
            },
            "seating",
        ),
        (
            {
                "name": "x",
                "collusive": False,
                "kind": "profit-forest",
                "policy": "forest",
                "train_iterations": 0,
            },
            "iterations",
        ),
    ],
)
def test_impossible_scenarios_are_config_errors(fields, message):
    with pytest.raises(ConfigError, match=message):
        Scenario(**fields)


def test_the_forest_plays_only_expert_style_pricing_scenarios():
    with pytest.raises(ConfigError, match="forest plays only"):
        Scenario("x", False, economy="exchange", policy="forest")
    with pytest.raises(ConfigError, match='needs policy = "forest"'):
        Scenario("x", True, "covert-cartel")
