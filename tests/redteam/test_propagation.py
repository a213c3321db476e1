import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from redteam.propagation import infection_matrix, measure


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
    p = measure(infected, 1, honest, hops, (1, 2, 3))
    assert p.infection_curve.tolist() == [0.0, 0.25, 0.5, 0.75]
    assert p.cumulative_curve.tolist() == [0.0, 0.25, 0.5, 1.0]
    assert p.blast_radius == {1: 0.25, 2: 0.5, 3: 1.0}
    assert p.rounds_to == {0.1: 1.0, 0.5: 2.0, 0.9: 3.0}
    assert p.infection_by_hop == {-1: 1.0, 1: 1.0, 2: 1.0, 3: 1.0}
    assert p.hop_buckets["1"] == 1.0 and np.isnan(p.hop_buckets["4plus"])
    assert p.mean_hop_infected == 2.0  # the unreachable agent is left out of the mean
    # New infections 1, 1, 2 after the one attacker; half the honest agents by the 2nd round:
    # (1 + 1) / (1 attacker + 1).
    assert p.r0 == 1.0
    assert np.isnan(measure(infected, 1, honest, hops, (4,)).blast_radius[4])  # past the end


def test_r0_reads_growth_per_round_and_below_one_for_an_outbreak_that_dies_out():
    honest = np.ones(101, dtype=bool)
    honest[0] = False
    cumulative = np.array([2, 6, 14, 30, 62])  # 2, 4, 8, 16, 32 new: doubling from 1 attacker
    infected = np.zeros((5, 101), dtype=bool)
    for r, c in enumerate(cumulative):
        infected[r, 1 : 1 + c] = True
    assert measure(infected, 0, honest, np.ones(101, dtype=np.int64), (1,)).r0 == 2.0
    dies = np.zeros((5, 101), dtype=bool)
    dies[0, 1] = True  # one infection, never passed on
    assert measure(dies, 0, honest, np.ones(101, dtype=np.int64), (1,)).r0 < 1.0


def test_no_infection_gives_zero_spread_never_reached_shares_and_r0_of_zero():
    honest = np.array([False, True, True])
    p = measure(np.zeros((5, 3), dtype=bool), 2, honest, np.array([0, 1, 2]), (2,))
    assert p.cumulative_curve.max() == 0.0
    assert all(np.isnan(v) for v in p.rounds_to.values())
    assert np.isnan(p.mean_hop_infected)
    assert p.r0 == 0.0


@given(
    infected=hnp.arrays(bool, hnp.array_shapes(min_dims=2, max_dims=2, min_side=2, max_side=12)),
    data=st.data(),
)
def test_cumulative_curve_is_monotone_bounded_and_dominates_the_current_curve(infected, data):
    rounds, n = infected.shape
    honest = data.draw(hnp.arrays(bool, n).filter(lambda h: h.any() and not h.all()))
    infected = infected & honest[None, :]
    start = data.draw(st.integers(0, rounds - 1))
    p = measure(infected, start, honest, np.zeros(n, dtype=np.int64), (1,))
    assert np.all(np.diff(p.cumulative_curve) >= 0)
    assert p.cumulative_curve.min() >= 0.0 and p.cumulative_curve.max() <= 1.0
    assert np.all(p.cumulative_curve[start:] >= p.infection_curve[start:])
    assert np.isfinite(p.r0) and p.r0 >= 0.0
