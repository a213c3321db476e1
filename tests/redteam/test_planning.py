"""Episode-level attacks through the harness: planned once on the attacker's own seeds, their
search's compute reported with every cell, the same plan for every seed and for the placebo."""

from __future__ import annotations

import redteam
from redteam.planning import PLANNING_SEEDS

PARAMS = {"start_round": 2, "queries": 3, "population": 2, "planning_seeds": 1, "steps": 2}


def _suite(seeds: int = 2):
    return redteam.build_suite(
        redteam.SuiteSettings(name="plan", checkpoint="checkpoints/small", rounds=6, seeds=seeds),
        economies=[redteam.EconomyEntry("supply_chain", agents=30)],
        metrics=redteam.MetricSettings(blast_radius_rounds=(2, 4)),
        attacks=[redteam.AttackEntry("latent-episode-search", params=PARAMS, placebo=True,
                                     threat={"fraction": 0.1, "knowledge": "white-box"})],
    )  # fmt: skip


def test_planning_seeds_are_never_a_suites():
    assert PLANNING_SEEDS > 10_000  # suites validate seeds, and defaults are 0..n-1


def test_the_plan_is_reported_and_the_run_is_deterministic():
    first, second = (redteam.run(_suite()).cells for _ in range(2))
    assert (first["attack_plan_queries"] == 3).all()
    assert (first["attack_plan_seconds"] > 0).all()
    columns = ["harm", "blast_radius_final", "attack_success_rate"]
    assert first[columns].equals(second[columns])
