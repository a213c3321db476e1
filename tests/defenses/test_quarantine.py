import numpy as np
import pytest

from defenses import RoundSignals, make_defense
from forest.errors import ConfigError


def _round(r, rng, outliers=()):
    x = rng.standard_normal((10, 4))
    x[list(outliers)] += 50.0
    return RoundSignals(r, x.astype(np.float32), np.zeros(10, dtype=np.int64), np.zeros(10))


@pytest.mark.parametrize("inner", ["mahalanobis", "isolation-forest", "spectral-signature"])
def test_a_flagged_agent_is_masked_for_the_next_rounds_then_released(inner):
    rng = np.random.default_rng(0)
    q = make_defense("quarantine", {"detector": inner, "rounds": 2, "target_fpr": 0.01})
    q.fit([_round(r, rng) for r in range(30)])
    q.calibrate([_round(r, rng) for r in range(30)])
    q.reset()
    assert q.aggregation_weights(0, 10) is None  # nothing flagged yet
    flagged = q.flag(q.score(_round(0, rng, outliers=[3])))
    assert flagged[3]
    for r in (1, 2):
        weights = q.aggregation_weights(r, 10)
        assert weights[3] == 0.0
        q.flag(q.score(_round(r, rng)))
    assert q.aggregation_weights(3, 10)[3] == 1.0


def test_quarantine_names_the_detectors_it_can_wrap():
    with pytest.raises(ConfigError, match="detector: expected one of"):
        make_defense("quarantine", {"detector": "quarantine"})
    with pytest.raises(ConfigError, match="rounds"):
        make_defense("quarantine", {"rounds": 0})
