"""``redteam.measure``: episodes a user played, measured against their twins by the cells' rules.
Known answers on hand-built episodes, the null (an attacked episode equal to its twin reads
zero), the t interval over seeds, the checks on bad input, and the example script."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import redteam
from forest.economy.base import InteractionGraph
from forest.errors import InvalidInputError
from redteam.counterfactual import TwinRecord

ROOT = Path(__file__).parents[2]
ROUNDS, AGENTS = 10, 6
CHAIN = (np.arange(AGENTS - 1), np.arange(1, AGENTS))  # 0 -> 1 -> 2 ... -> 5


def twin(welfare: float = 10.0) -> redteam.EpisodeTrace:
    return redteam.EpisodeTrace(np.zeros((ROUNDS, AGENTS)), np.full(ROUNDS, welfare))


def attacked(loss: float, infected: dict[int, int]) -> redteam.EpisodeTrace:
    """Welfare ``loss`` lower from round 4; honest agent i departs from round ``infected[i]``."""
    actions = np.zeros((ROUNDS, AGENTS))
    actions[4:, 0] = 3.0  # the attacker
    for agent, first in infected.items():
        actions[first:, agent] = 1.0
    welfare = np.full(ROUNDS, 10.0)
    welfare[4:] -= loss
    return redteam.EpisodeTrace(actions, welfare)


def test_an_attacked_episode_equal_to_its_twin_reads_zero_harm_and_no_spread():
    m = redteam.measure([twin(), twin()], [twin(), twin()], [0], start_round=4, graph=CHAIN)
    assert m.differences["harm"].mean == 0.0 and not m.differences["harm"].significant
    assert m.differences["blast_radius_final"].mean == 0.0
    assert m.seeds["infected_final"].tolist() == [0.0, 0.0]
    assert not any(i.any() for i in m.infected)


def test_known_harm_and_spread_along_a_chain():
    m = redteam.measure(
        twin(),
        attacked(2.5, {1: 5, 2: 6}),
        [0],
        start_round=4,
        graph=CHAIN,
        blast_radius_rounds=(1, 3),
    )
    row = m.seeds.iloc[0]
    assert row["harm"] == 2.5
    assert row["welfare_twin"] == 10.0 and row["welfare_under_attack"] == 7.5
    # 5 honest agents: none infected in the attack's first round, 2 of 5 by its third.
    assert row["blast_radius_r1"] == 0.0 and row["blast_radius_r3"] == pytest.approx(0.4)
    assert row["infected_share_hop1"] == 1.0 and row["infected_share_hop2"] == 1.0
    assert row["infected_share_hop3"] == 0.0
    # The attacker infects agent 1, which infects agent 2: one secondary case each.
    assert row["r0_index_secondary"] == 1.0 and row["r0"] == 1.0
    assert m.differences["harm"].n == 1 and math.isnan(m.differences["harm"].low)


def test_each_seed_may_bring_its_own_graph():
    """Agent 2 is one hop from the attacker on seed 1's graph, unreachable on seed 0's."""
    graphs = [(np.array([0]), np.array([1])), (np.array([0]), np.array([2]))]
    m = redteam.measure([twin()] * 2, [attacked(1.0, {2: 5})] * 2, [0], start_round=4,
                        graph=graphs)  # fmt: skip
    assert m.seeds["infected_share_hop1"].tolist() == [0.0, 1.0]


def test_without_a_graph_r0_and_the_hop_figures_are_undefined_not_zero():
    row = redteam.measure(twin(), attacked(1.0, {3: 6}), [0], start_round=4).seeds.iloc[0]
    assert math.isnan(row["r0"]) and math.isnan(row["infected_share_hop1"])
    assert row["blast_radius_final"] == pytest.approx(0.2)


def test_the_interval_is_the_t_interval_over_seeds():
    losses = [1.0, 2.0, 4.0]
    m = redteam.measure(
        [twin()] * 3, [attacked(x, {}) for x in losses], [0], start_round=4, confidence=0.9
    )
    harm = m.differences["harm"]
    half = stats.t.ppf(0.95, 2) * np.std(losses, ddof=1) / math.sqrt(3)
    assert harm.n == 3 and harm.mean == pytest.approx(7 / 3)
    assert harm.low == pytest.approx(7 / 3 - half) and harm.high == pytest.approx(7 / 3 + half)
    summary = m.summary().set_index("figure")
    assert bool(summary.loc["harm", "significant"]) is harm.significant


def test_it_reads_the_engines_records_mappings_and_a_compromised_list_per_seed():
    record = TwinRecord(
        actions=np.zeros((ROUNDS, AGENTS), dtype=np.int64),
        completed=np.ones((ROUNDS, AGENTS), dtype=bool),
        action_unit=np.ones(AGENTS),
        escalated=np.zeros(ROUNDS, dtype=bool),
        welfare=np.full(ROUNDS, 10.0),
    )
    hurt = {"actions": np.zeros((ROUNDS, AGENTS)), "welfare": np.full(ROUNDS, 9.0),
            "completed": np.zeros((ROUNDS, AGENTS), dtype=bool)}  # fmt: skip
    m = redteam.measure([record, record], [hurt, hurt], [[0], [1, 2]], graph=InteractionGraph(
        AGENTS, *CHAIN))  # fmt: skip
    assert m.seeds["harm"].tolist() == [1.0, 1.0]
    assert m.seeds["utility_drop"].tolist() == [1.0, 1.0]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: redteam.measure(twin(), [twin()], [0]), "one trace each"),
        (lambda: redteam.measure([twin()], [twin(), twin()], [0]), "one twin per attacked"),
        (lambda: redteam.measure(twin(), twin(), [AGENTS]), "agent ids in 0..5"),
        (lambda: redteam.measure(twin(), twin(), [0], start_round=ROUNDS), "start_round"),
        (lambda: redteam.measure(twin(), twin(), range(AGENTS)), "every agent is compromised"),
        (lambda: redteam.measure(twin(), twin(), [0], graph=([0], [9])), "edges must join"),
        (lambda: redteam.measure(twin(), twin(), [0], action_unit=0.0), "action_unit"),
        (lambda: redteam.measure(twin(), {"actions": np.zeros((2, 2))}, [0]), "lacks"),
        (lambda: redteam.measure(twin(), 3, [0]), "need an EpisodeTrace"),
        (lambda: redteam.EpisodeTrace(np.zeros((3, 2)), np.zeros(2)), "one value a round"),
        (lambda: redteam.EpisodeTrace(np.zeros(3), np.zeros(3)), r"\(rounds, agents\)"),
        (lambda: redteam.EpisodeTrace(np.zeros((1, 1)), [np.nan]), "finite"),
        (lambda: redteam.EpisodeTrace([["a"]], [1.0]), "need numbers"),
        (lambda: redteam.measure(twin(), twin(), [True] + [False] * 5), "bool mask"),
        (lambda: redteam.measure(twin(), twin(), [0.7]), "whole numbers"),
        (lambda: redteam.measure(twin(), twin(), 0), "list of agent ids"),
        (lambda: redteam.measure(twin(), twin(), {0}), "list of agent ids"),
        (lambda: redteam.measure(twin(), twin(), ["a"]), "list of agent ids"),
        (lambda: redteam.measure([twin()] * 2, [twin()] * 2, [[0], [1], [2]]), "one per seed"),
        (lambda: redteam.measure(twin(), twin(), [0], start_round=2.5), "whole round"),
        (lambda: redteam.measure(twin(), twin(), [0], start_round=True), "whole round"),
        (lambda: redteam.measure(twin(), twin(), [0], blast_radius_rounds=(0,)), ">= 1"),
        (lambda: redteam.measure(twin(), twin(), [0], blast_radius_rounds=5), "list of rounds"),
        (lambda: redteam.measure(twin(), twin(), [0], infection_threshold="0.5"), "positive"),
        (lambda: redteam.measure(twin(), twin(), [0], action_unit=np.ones(2)), "one per agent"),
        (lambda: redteam.measure(twin(), twin(), [0], action_unit=np.inf), "finite"),
        (
            lambda: redteam.measure(
                twin(), twin(), [0], graph=InteractionGraph(AGENTS, np.array([0]), np.array([9]))
            ),
            "edges must join",
        ),
        (
            lambda: redteam.measure(
                twin(),
                {
                    "actions": np.zeros((ROUNDS, AGENTS)),
                    "welfare": np.zeros(ROUNDS),
                    "completed": np.ones((ROUNDS, AGENTS), bool),
                },
                [0],
            ),
            "for every twin",
        ),
    ],
)
def test_bad_input_gets_a_clear_error(call, message):
    with pytest.raises(InvalidInputError, match=message):
        call()


def test_the_example_measures_a_scripted_supply_chain_it_played_itself():
    done = subprocess.run(
        [sys.executable, "examples/measure_own_episodes.py"], cwd=ROOT, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    lines = dict(line.split(": ", 1) for line in done.stdout.splitlines())
    assert set(lines) == {"harm", "blast_radius_final", "r0"}
    assert float(lines["harm"].split()[0]) > 0 and "n=3" in lines["harm"]
