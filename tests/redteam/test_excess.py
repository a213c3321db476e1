"""Excess over placebo: each attack paired per seed with its own budget spent at random."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from redteam import report
from redteam.excess import excess_over_placebo, markdown, table
from redteam.runner import CellRunner
from redteam.suite import load_suite


def frame(attack_spread, placebo_spread):
    rows = []
    for seed, (a, p) in enumerate(zip(attack_spread, placebo_spread, strict=True)):
        for label, spread in (("pgd", a), ("pgd placebo", p)):
            rows.append({"group": f"supply_chain | {label} | no defense", "attack": label,
                         "seed": seed,
                         "harm": 0.0, "blast_radius_final": spread,
                         "attack_success_rate": 0.0})  # fmt: skip
    return pd.DataFrame(rows)


def test_an_attack_that_beats_its_placebo_shows_a_significant_excess():
    (row,) = excess_over_placebo(frame([0.6, 0.7, 0.65], [0.1, 0.15, 0.1]))
    assert row.group == "supply_chain | pgd | no defense"
    spread = row.excess["blast_radius_final"]
    assert spread.mean == pytest.approx(0.65 - 0.35 / 3)
    assert spread.significant and spread.low > 0


def test_an_attack_no_better_than_random_reads_not_significant():
    (row,) = excess_over_placebo(frame([0.3, 0.1, 0.2], [0.2, 0.2, 0.2]))
    assert not row.excess["blast_radius_final"].significant
    assert "not significant" in "\n".join(markdown([row]))


def test_no_placebo_no_table():
    only = frame([0.5], [0.1])
    only = only[~only["group"].str.contains("placebo")]
    assert excess_over_placebo(only) == [] and markdown([]) == []


@pytest.mark.slow
def test_a_placebo_cell_plays_the_placebo_not_the_attack(tmp_path):
    root = Path(__file__).parents[2]
    suite = tmp_path / "placebo.toml"
    suite.write_text(
        f"""
[suite]
name = "placebo-played"
checkpoint = "{root / "checkpoints" / "small"}"
rounds = 6
seeds = 1

[[economies]]
name = "supply_chain"
agents = 60

[[attacks]]
name = "compromised-order-spike"
params = {{ start_round = 1, factor = 4.0 }}
threat = {{ fraction = 0.1 }}
placebo = true

[metrics]
blast_radius_rounds = [2]
"""
    )
    runner = CellRunner()
    attack, placebo = sorted(load_suite(suite).cells, key=lambda c: c.placebo)
    played = runner.run(attack).arrays
    random = runner.run(placebo).arrays
    ids = played["compromised"]
    np.testing.assert_array_equal(ids, random["compromised"])
    # The same agents, from the same round, act; what they do is drawn, not aimed.
    assert (played["actions"][1:, ids] != random["actions"][1:, ids]).any()
    np.testing.assert_array_equal(played["actions"][:1], random["actions"][:1])


def test_both_reports_carry_the_excess_table():
    rows = excess_over_placebo(frame([0.6, 0.7, 0.65], [0.1, 0.15, 0.1]))
    html = report._html("t", {}, ["group"], [], [], [], table(rows))
    assert "Excess over placebo" in html and "supply_chain | pgd | no defense" in html
    assert "Excess over placebo" in "\n".join(markdown(rows))
    assert "Excess over placebo" not in report._html("t", {}, ["group"], [], [], [], [])
