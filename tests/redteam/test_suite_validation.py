"""Validation and expansion of a suite, apart: each entry is checked and resolved once, and an
error points at the part of an entry to change (the sweep or the params, the size or the
config) without reading the field's name out of another error's text."""

from pathlib import Path

import pytest

from attacks import Attack
from forest.errors import ConfigError
from redteam.suite import parse_suite, validate_suite
from redteam.suite_expansion import expand_cells


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch):
    monkeypatch.chdir(Path(__file__).parents[2])


def suite(attack=None, economy=None, rounds=12):
    return {
        "suite": {"name": "s", "checkpoint": "checkpoints/small", "rounds": rounds, "seeds": 2},
        "economies": [economy or {"name": "supply_chain", "agents": 30}],
        "attacks": [{"threat": {"fraction": 0.1}, **(attack or {"name": "latent-noise"})}],
        "metrics": {"blast_radius_rounds": [2]},
    }


def refusal(data) -> str:
    with pytest.raises(ConfigError) as info:
        parse_suite(data, Path("s.toml"), check_checkpoint=False)
    return str(info.value)


@pytest.mark.parametrize(
    ("attack", "rounds", "expected"),
    [
        # the swept value is past the end; the default it replaces would be too (rounds 8)
        ({"name": "sleeper", "sweep": {"wake_round": [5, 20]}}, 8,
         "attacks[0].sweep.wake_round: expected < rounds (8), got 20"),
        # every variant fails the same way: the economy, not the swept start
        ({"name": "cartel", "sweep": {"start_round": [1, 2]}}, 12,
         "attacks[0].params.attack cartel: needs the pricing economy"),
        ({"name": "sleeper", "params": {"wake_round": 20}, "sweep": {"start_round": [1, 2]}}, 12,
         "attacks[0].params.wake_round: expected < rounds (12), got 20"),
        # the params need the swept wake_round to stand (wake_round >= start_round)
        ({"name": "sleeper", "params": {"start_round": 15}, "sweep": {"wake_round": [15]}}, 12,
         "attacks[0].params.start_round: expected < rounds (12), got 15"),
        ({"name": "sleeper", "params": {"start_round": 11}, "sweep": {"wake_round": [11, 30]}}, 20,
         "attacks[0].sweep.wake_round: expected < rounds (20), got 30"),
    ],
)  # fmt: skip
def test_a_check_error_points_at_the_sweep_only_when_the_swept_value_causes_it(
    attack, rounds, expected
):
    assert refusal(suite(attack, rounds=rounds)).startswith(expected)


def test_an_economy_error_points_at_the_size_when_another_size_fits_and_names_one():
    pricing = refusal(suite(economy={"name": "pricing", "agents": 31}))
    assert pricing.startswith("economies[0].agents: 31 agents do not fit pricing (")
    assert "multiple of firms_per_market=2" in pricing and pricing.endswith("; 32 would")
    markets = {"name": "exchange", "agents": 3, "config": {"traders_per_market": 4}}
    assert refusal(suite(economy=markets)).endswith("; 4 would")


@pytest.mark.parametrize(
    ("economy", "expected"),
    [
        ({"name": "supply_chain", "agents": 30, "config": {"supplier_share": 0.9}},
         "economies[0].config.supplier_share: expected a finite number in (0.0, 0.5]"),
        ({"name": "exchange", "agents": 40, "config": {"traders_per_market": 5}},
         "economies[0].config.traders_per_market: expected an even number"),
        ({"name": "pricing", "agents": 600, "config": {"firms_per_market": 3, "costs": [1.0]}},
         "economies[0].config.costs: expected None or a tuple of firms_per_market=3 costs"),
        ({"name": "pricing", "agents": 1}, "economies[0].agents: expected an integer in [2, "),
    ],
)  # fmt: skip
def test_an_economy_error_points_at_the_config_when_no_size_would_fit(economy, expected):
    assert refusal(suite(economy=economy)).startswith(expected)


def test_each_variant_is_built_once_and_expansion_crosses_what_validation_resolved(
    monkeypatch,
):
    built = []
    from_config = Attack.from_config.__func__

    def counting(cls, params, threat, where):
        built.append(where)
        return from_config(cls, params, threat, where)

    monkeypatch.setattr(Attack, "from_config", classmethod(counting))
    data = suite({"name": "latent-noise", "sweep": {"norm": [1.0, 4.0, 16.0]}})
    data["defenses"] = [{"name": "none"}, {"name": "mahalanobis"}]
    validated = validate_suite(data, check_checkpoint=False)
    assert len(built) == 3 == len(validated.variants)
    assert [v.sweep for v in validated.variants] == [("norm", 1.0), ("norm", 4.0), ("norm", 16.0)]
    cells = expand_cells(validated)
    assert len(cells) == 1 * 3 * 2 * 2  # economies x variants x defenses x seeds
    assert {c.attack_params["norm"] for c in cells} == {1.0, 4.0, 16.0}
    assert len(built) == 3  # expanding builds nothing


def test_placebo_adds_a_placebo_variant_of_every_variant(tmp_path):
    from redteam.suite import load_suite

    suite = tmp_path / "placebo.toml"
    suite.write_text(
        """
[suite]
name = "placebo"
checkpoint = "checkpoints/small"
rounds = 10
seeds = 1

[[economies]]
name = "supply_chain"
agents = 30

[[attacks]]
name = "latent-noise"
sweep = { norm = [4.0, 8.0] }
placebo = true
"""
    )
    cells = load_suite(suite, check_checkpoint=False).cells
    labels = sorted(c.attack_label for c in cells)
    assert labels == [
        "latent-noise norm=4.0",
        "latent-noise norm=4.0 placebo",
        "latent-noise norm=8.0",
        "latent-noise norm=8.0 placebo",
    ]
    assert len({c.hash for c in cells}) == 4
    assert sum(c.placebo for c in cells) == 2
