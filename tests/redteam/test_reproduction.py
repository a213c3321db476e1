"""R0 recovered from simulated SI/SIR outbreaks with a known R, and its edge cases.

The simulator (``simulate_outbreaks``) knows the nominal R of its parameters and records the
true infector of every case; the estimator sees only the infection matrix and the graph.
Erdos-Renyi graphs give the nominal R = mean degree * (1 - (1 - p) ** D); the supply-chain
graph is a forest of trees, so there R = excess degree * (1 - (1 - p) ** D) as well; the exchange
graph (cliques of 10) has no closed form and is checked against the simulator's true infectors.
The full-size runs are in experiments/validate_estimators.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from forest.economy import make_economy
from forest.errors import InvalidInputError
from redteam.reproduction import (
    Reproduction,
    erdos_renyi,
    estimate_reproduction,
    excess_degree,
    simulate_outbreaks,
    true_reproduction,
)

OUTBREAKS = 200
D = 2  # infectious rounds (SIR)
ROUNDS = 10


def recover(src, dst, n, p, n_attackers, rng, window=D, rounds=ROUNDS):
    """Estimated and true R0, each pooled over OUTBREAKS outbreaks (fresh attackers each)."""
    attackers = np.sort(
        np.stack([rng.choice(n, n_attackers, replace=False) for _ in range(OUTBREAKS)]), axis=1
    )
    out = simulate_outbreaks(src, dst, n, attackers, p, rounds, 1, window, OUTBREAKS, rng)
    weighted = weight = 0.0
    for b in range(OUTBREAKS):
        est = estimate_reproduction(out.infected[b], attackers[b], 1, src, dst, n, window)
        if est.n_early > 0:
            weighted += est.r0 * est.n_early
            weight += est.n_early
    total, count = true_reproduction(out, attackers, 1, window)
    return weighted / weight, total.sum() / count.sum()


@pytest.mark.parametrize("r_true", [0.5, 1.5, 3.0])
def test_recovers_a_known_r_on_erdos_renyi_graphs(r_true):
    rng = np.random.default_rng([7, int(10 * r_true)])
    n, mean_degree = 5000, 5.0
    src, dst = erdos_renyi(n, mean_degree, rng)
    p = 1 - (1 - r_true / mean_degree) ** (1 / D)
    estimated, truth = recover(src, dst, n, p, 10, rng)
    assert estimated == pytest.approx(r_true, rel=0.10)
    assert estimated == pytest.approx(truth, rel=0.05)


def test_recovers_a_known_r_on_the_supply_chain_graph():
    graph = make_economy("supply_chain", 0).interaction_graph()
    n, src, dst = graph.n_agents, graph.src, graph.dst
    r_true = 1.5
    p = 1 - (1 - r_true / excess_degree(src, dst, n)) ** (1 / D)
    estimated, truth = recover(src, dst, n, p, 5, np.random.default_rng(11))
    assert estimated == pytest.approx(r_true, rel=0.10)
    assert estimated == pytest.approx(truth, rel=0.05)


@pytest.mark.parametrize("window", [D, None])
def test_matches_the_true_infectors_on_the_exchange_graph(window):
    graph = make_economy("exchange", 0).interaction_graph()
    rng = np.random.default_rng(13)
    estimated, truth = recover(graph.src, graph.dst, graph.n_agents, 0.2, 5, rng, window)
    assert estimated == pytest.approx(truth, rel=0.05)


def old_growth_ratio(infected: np.ndarray, n_attackers: int, start_round: int) -> float:
    """The figure redteam.propagation called R0: sum(new[t]) / sum(new[t - 1]), attackers as
    the round before, up to the round in which half the honest agents are infected."""
    cumulative = np.logical_or.accumulate(infected[start_round:], axis=0).sum(axis=1)
    new = np.diff(np.concatenate([[0], cumulative]))
    half = np.flatnonzero(cumulative >= 0.5 * (infected.shape[1] - n_attackers))
    end = int(half[0]) + 1 if half.size else new.size
    return float(new[:end].sum() / np.concatenate([[n_attackers], new[: end - 1]]).sum())


def steady_five_a_round(kind: str, rounds: int = 8):
    """Five new honest cases every round, either from one attacker hub ("star": the cases infect
    nobody, true R 0) or along five chains ("chains": each case infects the next, true R 1)."""
    per_round, n_new = 5, rounds - 1
    if kind == "star":
        n = 1 + per_round * n_new
        src, dst = np.zeros(n - 1, dtype=np.int64), np.arange(1, n)
        attackers = [0]
        order = np.arange(1, n)  # leaf k infected in round 1 + k // 5
    else:
        n = per_round * (1 + n_new)
        heads = np.arange(per_round) * (1 + n_new)
        src = (heads[:, None] + np.arange(n_new)).ravel()
        dst = src + 1
        attackers = heads.tolist()
        order = (heads[None, :] + np.arange(1, n_new + 1)[:, None]).ravel()  # round by round
    infected = np.zeros((rounds, n), dtype=bool)
    for k, agent in enumerate(order):
        infected[1 + k // per_round :, agent] = True
    return infected, attackers, src, dst, n


@pytest.mark.parametrize(("kind", "r_true", "old"), [("star", 0.0, 1.25), ("chains", 1.0, 1.0)])
def test_a_steady_five_a_round_reads_its_true_r_not_the_growth_ratio(kind, r_true, old):
    infected, attackers, src, dst, n = steady_five_a_round(kind)
    assert (np.diff(infected.sum(axis=1)) == 5).all()  # the same curve in both
    # The growth ratio: 20 cases up to half of 35 over 15 of them plus the attackers.
    assert old_growth_ratio(infected, len(attackers), 1) == pytest.approx(old)
    est = estimate_reproduction(infected, attackers, 1, src, dst, n)
    assert est.r0 == r_true
    assert est.growth_rate == pytest.approx(0.0)
    assert est.unattributed_share == 0.0
    if kind == "star":
        assert est.index_secondary == 35.0  # all of it is the attacker's reach


def test_no_infection_reads_zero_and_no_attacker_nan():
    infected = np.zeros((5, 4), dtype=bool)
    src, dst = np.array([0, 1, 2]), np.array([1, 2, 3])
    none = estimate_reproduction(infected, [0], 2, src, dst, 4)
    assert none.r0 == 0.0 and none.n_early == 0.0 and none.index_secondary == 0.0
    assert math.isnan(none.growth_rate) and math.isnan(none.unattributed_share)
    infected[3:, 2] = True
    nobody = estimate_reproduction(infected, [], 2, src, dst, 4)
    assert math.isnan(nobody.r0) and nobody.n_index == 0
    assert nobody.unattributed_share == 1.0  # counted, even without an index case


def test_unattributed_infections_are_counted_and_start_the_first_generation():
    # 0 attacker - 1; agents 2 and 3 have no infectious neighbour; 2 then infects 4.
    src, dst = np.array([0, 2]), np.array([1, 4])
    infected = np.zeros((4, 5), dtype=bool)
    infected[1:, [1, 2, 3]] = True
    infected[2:, 4] = True
    est = estimate_reproduction(infected, [0], 1, src, dst, 5)
    assert est.unattributed_share == pytest.approx(2 / 4)
    assert est.secondary_by_case.tolist() == [1.0, 0.0, 1.0, 0.0, 0.0]
    assert est.r0 == pytest.approx(1 / 3)  # cases 1, 2, 3 of the first generation
    assert est.n_early == pytest.approx(3.0)


def test_credit_is_split_among_the_infectious_neighbours_of_the_round_before():
    # 3 has neighbours 1 and 2 (infected in round 1) and 0, the attacker: a third each.
    src, dst = np.array([0, 0, 1, 2, 0]), np.array([1, 2, 3, 3, 3])
    infected = np.zeros((4, 4), dtype=bool)
    infected[1:, [1, 2]] = True
    infected[2:, 3] = True
    est = estimate_reproduction(infected, [0], 1, src, dst, 4)
    assert est.secondary_by_case == pytest.approx([2 + 1 / 3, 1 / 3, 1 / 3, 0.0])
    assert est.r0 == pytest.approx(1 / 3)


def test_first_infection_counts_and_recovered_agents_are_not_candidates_under_sir():
    # chain 0 (attacker) - 1 - 2; 1 infected in round 1 only (then recovers); 2 in round 3.
    src, dst = np.array([0, 1]), np.array([1, 2])
    infected = np.zeros((5, 3), dtype=bool)
    infected[1, 1] = infected[4, 1] = True  # relapse in round 4: still infected first in round 1
    infected[3:, 2] = True
    si = estimate_reproduction(infected, [0], 1, src, dst, 3)
    assert si.secondary_by_case.tolist() == [1.0, 1.0, 0.0] and si.unattributed_share == 0.0
    sir = estimate_reproduction(infected, [0], 1, src, dst, 3, infectious_rounds=1)
    assert sir.secondary_by_case.tolist() == [1.0, 0.0, 0.0] and sir.unattributed_share == 0.5


def test_returns_a_small_frozen_record():
    est = estimate_reproduction(np.zeros((3, 2), dtype=bool), [0], 1, [0], [1], 2)
    assert isinstance(est, Reproduction)
    with pytest.raises(AttributeError):
        est.r0 = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"infected": np.zeros((5, 3))}, "infected"),
        ({"infected": np.zeros((5, 4), dtype=bool)}, "infected"),
        ({"attackers": [2, 1]}, "attackers"),
        ({"attackers": [3]}, "attackers"),
        ({"start_round": 0}, "start_round"),
        ({"start_round": 5}, "start_round"),
        ({"src": np.array([0, 1])}, "src, dst"),
        ({"dst": np.array([7])}, "src, dst"),
        ({"infectious_rounds": 0}, "infectious_rounds"),
        ({"early_share": 0.0}, "early_share"),
    ],
)
def test_bad_input_names_the_argument(kwargs, name):
    args = {
        "infected": np.zeros((5, 3), dtype=bool),
        "attackers": [0],
        "start_round": 1,
        "src": np.array([0]),
        "dst": np.array([1]),
        "n_agents": 3,
    }
    args.update(kwargs)
    with pytest.raises(InvalidInputError) as info:
        estimate_reproduction(**args)
    assert str(info.value).startswith(f"{name}:") and "\n" not in str(info.value)
