import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from defenses import RoundSignals, defense_names, make_defense
from forest.errors import InvalidInputError

N, D = 200, 8


def _episode(rng, n_rounds, jump=None):
    """Two roles (supplier 0, firm 3) whose agents random-walk, firms with larger steps;
    ``jump`` = (agents, round, size): those agents jump that far at that round."""
    roles = np.repeat([0, 3], N // 2)
    step = np.where(roles[:, None] == 0, 0.5, 1.5)
    x = rng.standard_normal((N, D)) * 5.0
    out = []
    for r in range(n_rounds):
        if r > 0:
            x = x + step * rng.standard_normal((N, D))
        shown = x.copy()
        if jump is not None and r == jump[1]:
            direction = rng.standard_normal((len(jump[0]), D))
            direction /= np.linalg.norm(direction, axis=1, keepdims=True)
            shown[jump[0]] += jump[2] * direction
        out.append(RoundSignals(r, shown.astype(np.float32), roles, np.zeros(N, dtype=np.int64)))
    return out


def test_temporal_drift_ranks_agents_that_jump_above_agents_that_drift():
    rng = np.random.default_rng(0)
    detector = make_defense("temporal-drift")
    detector.fit(_episode(rng, 10))
    jumpers = np.r_[0:5, 100:105]
    attacked = _episode(rng, 6, jump=(jumpers, 4, 8.0))
    detector.reset()
    scores = [detector.score(r) for r in attacked]
    labels = np.isin(np.arange(N), jumpers)
    assert roc_auc_score(labels, scores[4]) > 0.9
    # Firms drift three times as far as suppliers each round, yet both roles are standardised.
    clean = np.concatenate(scores[1:4])
    roles = np.tile(attacked[0].roles, 3)
    assert abs(clean[roles == 0].mean() - clean[roles == 3].mean()) < 0.5


def test_temporal_drift_scores_the_first_round_zero_and_reset_forgets_the_last_round():
    rng = np.random.default_rng(1)
    detector = make_defense("temporal-drift")
    detector.fit(_episode(rng, 5))
    episode = _episode(rng, 3)
    np.testing.assert_array_equal(detector.score(episode[0]), np.zeros(N))
    assert np.any(detector.score(episode[1]) != 0)
    detector.reset()
    np.testing.assert_array_equal(detector.score(episode[0]), np.zeros(N))


def test_temporal_drift_scores_are_identical_for_identical_inputs_and_replays():
    fit = _episode(np.random.default_rng(2), 5)
    probe = _episode(np.random.default_rng(3), 4, jump=([0, 1], 2, 5.0))
    first, second = make_defense("temporal-drift"), make_defense("temporal-drift")
    first.fit(fit)
    second.fit(fit)
    played = [first.score(r) for r in probe]
    np.testing.assert_array_equal(np.stack(played), np.stack([second.score(r) for r in probe]))
    first.reset()
    np.testing.assert_array_equal(np.stack(played), np.stack([first.score(r) for r in probe]))


def test_temporal_drift_keeps_its_own_copy_of_last_round():
    rng = np.random.default_rng(4)
    detector = make_defense("temporal-drift")
    detector.fit(_episode(rng, 5))
    episode = _episode(rng, 2)
    expected = detector.score(episode[0]), detector.score(episode[1])
    detector.reset()
    reused = episode[0].summaries.copy()
    detector.score(RoundSignals(0, reused, episode[0].roles, episode[0].actions))
    reused[:] = episode[1].summaries  # the caller overwrites its buffer with the next round
    np.testing.assert_array_equal(
        detector.score(RoundSignals(1, reused, episode[1].roles, episode[1].actions)),
        expected[1],
    )


def test_temporal_drift_errors_name_what_is_wrong():
    rng = np.random.default_rng(5)
    detector = make_defense("temporal-drift")
    with pytest.raises(InvalidInputError, match="calibrate"):
        detector.flag(np.zeros(3))
    episode = _episode(rng, 3)
    with pytest.raises(InvalidInputError, match="fit the detector"):
        detector.score(episode[0])
    with pytest.raises(InvalidInputError, match="two consecutive rounds"):
        detector.fit(episode[:1])
    detector.fit(episode)
    unseen = RoundSignals(0, np.zeros((2, D), np.float32), np.array([1, 1]), np.zeros(2))
    with pytest.raises(InvalidInputError, match="no clean data for role warehouse"):
        detector.score(unseen)
    detector.reset()
    detector.score(episode[0])
    with pytest.raises(InvalidInputError, match=r"round 2 .* does not follow round 0"):
        detector.score(episode[2])
    assert "temporal-drift" in defense_names()
