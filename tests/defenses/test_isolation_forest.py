import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from defenses import RoundSignals, defense_names, make_defense
from forest.errors import ConfigError, InvalidInputError


def _rounds(rng, n_rounds, n=200, d=8, shift=None):
    """Two roles (supplier 0, firm 3) of Gaussian summaries; ``shift`` = (first rows, offset)."""
    roles = np.repeat([0, 3], n // 2)
    centres = np.where(roles[:, None] == 0, 0.0, 5.0)
    out = []
    for r in range(n_rounds):
        x = centres + rng.standard_normal((n, d))
        if shift is not None:
            x[: shift[0]] += shift[1]
        out.append(RoundSignals(r, x.astype(np.float32), roles, np.zeros(n, dtype=np.int64)))
    return out


def test_isolation_forest_ranks_injected_outliers_above_clean_rows_of_both_roles():
    rng = np.random.default_rng(0)
    detector = make_defense("isolation-forest")
    detector.fit(_rounds(rng, 10))
    (attacked,) = _rounds(rng, 1)
    outliers = np.r_[0:5, 100:105]  # five of each role
    summaries = attacked.summaries.copy()
    summaries[outliers] += 3.0
    scores = detector.score(RoundSignals(0, summaries, attacked.roles, attacked.actions))
    labels = np.isin(np.arange(200), outliers)
    assert roc_auc_score(labels, scores) > 0.9


def test_isolation_forest_scores_are_identical_for_identical_inputs():
    fit = _rounds(np.random.default_rng(1), 5)
    (probe,) = _rounds(np.random.default_rng(2), 1, shift=(10, 3.0))
    first, second = make_defense("isolation-forest"), make_defense("isolation-forest")
    first.fit(fit)
    second.fit(fit)
    np.testing.assert_array_equal(first.score(probe), second.score(probe))
    np.testing.assert_array_equal(first.score(probe), first.score(probe))


def test_isolation_forest_seed_and_tree_count_are_parameters():
    fit = _rounds(np.random.default_rng(3), 5)
    (probe,) = _rounds(np.random.default_rng(4), 1)
    default = make_defense("isolation-forest")
    other = make_defense("isolation-forest", {"seed": 7, "n_estimators": 20})
    default.fit(fit)
    other.fit(fit)
    assert other.models[0].n_estimators == 20
    assert not np.array_equal(default.score(probe), other.score(probe))


def test_isolation_forest_errors_name_what_is_wrong():
    rng = np.random.default_rng(5)
    detector = make_defense("isolation-forest")
    with pytest.raises(InvalidInputError, match="calibrate"):
        detector.flag(np.zeros(3))
    with pytest.raises(InvalidInputError, match="fit the detector"):
        detector.score(_rounds(rng, 1)[0])
    detector.fit(_rounds(rng, 2))
    unseen = RoundSignals(0, np.zeros((2, 8), np.float32), np.array([1, 1]), np.zeros(2))
    with pytest.raises(InvalidInputError, match="no clean data for role warehouse"):
        detector.score(unseen)
    narrow = RoundSignals(0, np.zeros((2, 5), np.float32), np.array([0, 0]), np.zeros(2))
    with pytest.raises(InvalidInputError, match=r"shape \(2, 8\)"):
        detector.score(narrow)
    with pytest.raises(ConfigError, match="n_estimators"):
        make_defense("isolation-forest", {"n_estimators": 0})
    assert "isolation-forest" in defense_names()
