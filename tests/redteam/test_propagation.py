import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from forest.economy.base import InteractionGraph
from redteam.propagation import channel_shares, first_infections, infection_matrix, measure


def graph(n: int, *edges: tuple[int, int]) -> InteractionGraph:
    src = np.array([a for a, _ in edges], dtype=np.int64)
    dst = np.array([b for _, b in edges], dtype=np.int64)
    return InteractionGraph(n, src, dst)


def test_infection_counts_departures_beyond_the_threshold_in_action_classes():
    twin = np.array([[10, 10, 10, 10]])
    attacked = np.array([[10, 11, 12, 30]])
    unit = np.array([[1.0, 1.0, 4.0, 4.0]])
    honest = np.array([True, True, True, False])
    infected = infection_matrix(attacked, twin, unit, honest, threshold=0.5)
    # 1 class away: infected; 0.5 class away: not (not > 0.5); attacker: never counted.
    assert infected.tolist() == [[False, True, False, False]]


def test_propagation_figures_of_a_hand_made_epidemic():
    # 1 attacker (agent 0) and 4 honest agents; the attack starts at round 1.
    honest = np.array([False, True, True, True, True])
    infected = np.array(
        [
            [0, 0, 0, 0, 0],
            [0, 1, 0, 0, 0],
            [0, 1, 1, 0, 0],
            [0, 0, 1, 1, 1],
        ],
        dtype=bool,
    )
    hops = np.array([0, 1, 2, 3, -1])
    chain = graph(5, (0, 1), (1, 2), (2, 3))  # agent 4 has no contact
    p = measure(infected, 1, honest, hops, (1, 2, 3), chain)
    assert p.infection_curve.tolist() == [0.0, 0.25, 0.5, 0.75]
    assert p.cumulative_curve.tolist() == [0.0, 0.25, 0.5, 1.0]
    assert p.blast_radius == {1: 0.25, 2: 0.5, 3: 1.0}
    assert p.rounds_to == {0.1: 1.0, 0.5: 2.0, 0.9: 3.0}
    assert p.infection_by_hop == {-1: 1.0, 1: 1.0, 2: 1.0, 3: 1.0}
    assert p.hop_buckets["1"] == 1.0 and np.isnan(p.hop_buckets["4plus"])
    assert p.mean_hop_infected == 2.0  # the unreachable agent is left out of the mean
    # The attacker infects agent 1, which infects 2, which infects 3; agent 4 has no infected
    # contact (it came through the attention or the economy). The early case (agent 1, the
    # first 5% of honest agents) passed the poison to one other: R0 = 1.
    scalars = p.scalars()
    assert scalars["r0"] == 1.0
    assert scalars["r0_index_secondary"] == 1.0
    assert scalars["r0_unattributed_share"] == 0.25
    assert np.isnan(measure(infected, 1, honest, hops, (4,), chain).blast_radius[4])  # past the end


def test_r0_of_an_attack_from_the_first_round_counts_the_attackers_as_index_cases():
    honest = np.array([False, True, True])
    infected = np.array([[0, 1, 0], [0, 1, 1]], dtype=bool)  # 0 -> 1 in round 0, 1 -> 2
    p = measure(infected, 0, honest, np.array([0, 1, 2]), (1,), graph(3, (0, 1), (1, 2)))
    assert p.reproduction.r0 == 1.0 and p.reproduction.index_secondary == 1.0


def test_no_infection_gives_zero_spread_never_reached_shares_and_r0_of_zero():
    honest = np.array([False, True, True])
    nobody = np.zeros((5, 3), dtype=bool)
    p = measure(nobody, 2, honest, np.array([0, 1, 2]), (2,), graph(3, (0, 1), (1, 2)))
    assert p.cumulative_curve.max() == 0.0
    assert all(np.isnan(v) for v in p.rounds_to.values())
    assert np.isnan(p.mean_hop_infected)
    assert p.reproduction.r0 == 0.0


@given(
    infected=hnp.arrays(bool, hnp.array_shapes(min_dims=2, max_dims=2, min_side=2, max_side=12)),
    data=st.data(),
)
def test_cumulative_curve_is_monotone_bounded_and_dominates_the_current_curve(infected, data):
    rounds, n = infected.shape
    honest = data.draw(hnp.arrays(bool, n).filter(lambda h: h.any() and not h.all()))
    infected = infected & honest[None, :]
    start = data.draw(st.integers(0, rounds - 1))
    ring = graph(n, *((i, (i + 1) % n) for i in range(n)))
    p = measure(infected, start, honest, np.zeros(n, dtype=np.int64), (1,), ring)
    assert np.all(np.diff(p.cumulative_curve) >= 0)
    assert p.cumulative_curve.min() >= 0.0 and p.cumulative_curve.max() <= 1.0
    assert np.all(p.cumulative_curve[start:] >= p.infection_curve[start:])
    assert np.isfinite(p.reproduction.r0) and p.reproduction.r0 >= 0.0


def test_first_infections_mark_each_agents_first_round_from_the_start_only():
    infected = np.array(
        [[1, 0, 0], [1, 1, 0], [0, 1, 0], [1, 0, 1]], dtype=bool
    )  # agent 0 infected before the start (round 1), recovers, relapses
    first = first_infections(infected, start_round=1)
    assert first.tolist() == [
        [False, False, False],
        [True, True, False],
        [False, False, False],
        [False, False, True],
    ]


def test_new_infection_shares_say_how_poison_arrived_where_agent_rounds_say_how_long_it_stayed():
    """One agent infected by the attention in round 1 and kept infected by its memory for three
    more rounds: by agent-rounds the attention carried a quarter, by new infections all of it."""
    infected = np.array([[0], [1], [1], [1], [1]], dtype=bool)
    attention_restored = np.array([[0], [0], [1], [1], [1]], dtype=bool)
    untouched = infected.copy()
    by_rounds, total = channel_shares(infected, attention_restored, untouched, untouched, 1)
    assert total == 4 and by_rounds["attention"] == 0.25 and by_rounds["state"] == 0.75
    first = first_infections(infected, 1)
    by_new, new = channel_shares(first, attention_restored, untouched, untouched, 1)
    assert new == 1 and by_new["attention"] == 1.0 and by_new["state"] == 0.0
