import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from redteam.statistics import bootstrap_mean


def test_interval_brackets_the_mean_of_varied_seeds():
    est = bootstrap_mean([0.80, 0.85, 0.90, 0.95])
    assert est.mean == 0.875
    assert est.low < est.mean < est.high
    assert est.low >= 0.80 and est.high <= 0.95


def test_one_seed_has_no_interval_and_equal_seeds_a_point_interval():
    one = bootstrap_mean([0.5])
    assert one.mean == 0.5 and np.isnan(one.low) and one.text() == "0.500"
    same = bootstrap_mean([0.5, 0.5, 0.5])
    assert (same.low, same.high) == (0.5, 0.5)


def test_a_figure_undefined_in_any_seed_is_undefined_across_seeds():
    est = bootstrap_mean([1.0, float("nan")])
    assert np.isnan(est.mean) and est.text() == "—"


@given(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=8))
def test_interval_is_deterministic_and_within_the_data_range(values):
    a, b = bootstrap_mean(values), bootstrap_mean(values)
    assert a == b
    assert min(values) - 1e-6 <= a.low <= a.high <= max(values) + 1e-6
