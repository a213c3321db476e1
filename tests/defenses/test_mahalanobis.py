import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from defenses import RoundSignals, defense_names, make_defense
from forest.errors import ConfigError, InvalidInputError, UnknownNameError


def _rounds(rng, n_rounds, n=200, d=8, shift=None):
    roles = np.repeat([0, 3], n // 2)
    centres = np.where(roles[:, None] == 0, 0.0, 5.0)
    out = []
    for r in range(n_rounds):
        x = centres + rng.standard_normal((n, d))
        if shift is not None:
            x[: shift[0]] += shift[1]
        out.append(RoundSignals(r, x.astype(np.float32), roles, np.zeros(n, dtype=np.int64)))
    return out


def test_calibrated_threshold_holds_the_target_false_positive_rate_on_fresh_clean_rounds():
    rng = np.random.default_rng(0)
    detector = make_defense("mahalanobis", {"target_fpr": 0.05})
    detector.fit(_rounds(rng, 20))
    detector.calibrate(_rounds(rng, 20))
    fresh = _rounds(rng, 20)
    fpr = np.mean([detector.flag(detector.score(r)).mean() for r in fresh])
    # 4,000 clean agent-rounds: the binomial standard error at 5% is 0.34 points.
    assert 0.035 < fpr < 0.065


def test_shifted_summaries_score_higher_than_clean_ones_of_the_same_role():
    rng = np.random.default_rng(1)
    detector = make_defense("mahalanobis")
    detector.fit(_rounds(rng, 10))
    (attacked,) = _rounds(rng, 1, shift=(10, 3.0))
    scores = detector.score(attacked)
    labels = np.arange(200) < 10
    assert roc_auc_score(labels, scores) > 0.95


def test_mahalanobis_errors_name_what_is_wrong():
    rng = np.random.default_rng(2)
    detector = make_defense("mahalanobis")
    with pytest.raises(InvalidInputError, match="calibrate"):
        detector.flag(np.zeros(3))
    detector.fit(_rounds(rng, 2))
    unseen = RoundSignals(0, np.zeros((2, 8), np.float32), np.array([1, 1]), np.zeros(2))
    with pytest.raises(InvalidInputError, match="no clean data for role warehouse"):
        detector.score(unseen)
    with pytest.raises(ConfigError, match="target_fpr"):
        make_defense("mahalanobis", {"target_fpr": 0.9})
    with pytest.raises(UnknownNameError, match=r"allowed: .*mahalanobis"):
        make_defense("mahalanobs")
    assert "mahalanobis" in defense_names()
