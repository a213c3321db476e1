"""Episode-level attacks through the harness: planned once on the attacker's own seeds, their
search's compute reported with every cell, the same plan for every seed and for the placebo."""

from __future__ import annotations

import pytest

import redteam
from redteam.planning import PLANNING_SEEDS
from redteam.runner import CellRunner
from redteam.suite import SuiteError

PARAMS = {"start_round": 2, "queries": 3, "population": 2, "planning_seeds": 1, "steps": 2}


def _suite(seeds: int | tuple[int, ...] = 2):
    return redteam.build_suite(
        redteam.SuiteSettings(name="plan", checkpoint="checkpoints/small", rounds=6, seeds=seeds),
        economies=[redteam.EconomyEntry("supply_chain", agents=30)],
        attacks=[redteam.AttackEntry("latent-episode-search", params=PARAMS, placebo=True,
                                     threat={"fraction": 0.1, "knowledge": "white-box"})],
        metrics=redteam.MetricSettings(blast_radius_rounds=(2, 4)),
    )  # fmt: skip


def test_a_suite_seed_that_reaches_the_planning_seeds_is_refused():
    with pytest.raises(SuiteError, match="planning"):
        _suite(seeds=(PLANNING_SEEDS - 1,))


def test_every_seed_and_the_placebo_play_one_plan_and_a_fresh_search_finds_it_again():
    suite = _suite()
    runner = CellRunner()
    plans = []
    for cell in suite.cells:  # seeds 0 and 1, each with its placebo
        attack = runner.attack(cell)
        plans.append(runner.plan(cell, attack, None))
    assert all(plan is plans[0] for plan in plans)
    again = CellRunner()
    cell = suite.cells[-1]
    assert again.plan(cell, again.attack(cell), None).policy == plans[0].policy


def test_the_plan_is_reported_with_every_cell_and_survives_mlflow(tmp_path):
    logged = {"tracking": f"sqlite:///{tmp_path}/mlflow.db", "out": tmp_path / "report"}
    results = redteam.run(_suite(), **logged)
    cells = results.cells
    assert (cells["attack_plan_queries"] == 3).all()
    assert (cells["attack_plan_seconds"] > 0).all()
    assert cells["attack_plan_harm"].nunique() == 1  # one plan, the seeds' and the placebo's
    schedules = {str(r.plan["schedule"]) for r in results.records}
    assert len(schedules) == 1 and results.records[0].plan["rounds"] == 6
    reused = redteam.run(_suite(), **logged)
    assert [r.plan for r in reused.records] == [r.plan for r in results.records]
