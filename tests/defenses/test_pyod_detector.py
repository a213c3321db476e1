import numpy as np
import pytest

from defenses import RoundSignals, make_defense
from defenses.pyod_detector import SUPPORTED
from forest.errors import ConfigError

N, D, TARGET_FPR = 60, 8, 0.05


def _episode(rng, n_rounds, centres):
    """Two roles (supplier 0, firm 3), each around its own centre with its own spread."""
    roles = np.repeat([0, 3], N // 2)
    spread = np.where(roles == 0, 0.5, 2.0)[:, None]
    actions = np.zeros(N, dtype=np.int64)
    out = []
    for r in range(n_rounds):
        summaries = centres[roles // 3] + spread * rng.standard_normal((N, D))
        out.append(RoundSignals(r, summaries, roles, actions))
    return out


@pytest.mark.parametrize("model", SUPPORTED)
def test_every_supported_model_holds_its_false_positive_rate_and_catches_a_planted_outlier(model):
    rng = np.random.default_rng(0)
    centres = 5.0 * rng.standard_normal((2, D))
    detector = make_defense("pyod", {"model": model, "target_fpr": TARGET_FPR})
    detector.fit(_episode(rng, 10, centres))
    detector.calibrate(_episode(rng, 10, centres))
    held_out = _episode(rng, 10, centres)
    fpr = np.concatenate([detector.flag(detector.score(r)) for r in held_out]).mean()
    assert fpr <= 2 * TARGET_FPR, f"{model}: {fpr:.3f} of clean agent-rounds flagged"
    # A supplier ten of its role's standard deviations out in every coordinate.
    planted = held_out[0].summaries.copy()
    planted[0] += 10 * 0.5 * rng.choice([-1.0, 1.0], D)
    signals = RoundSignals(0, planted, held_out[0].roles, held_out[0].actions)
    assert detector.flag(detector.score(signals))[0], model


def test_an_unsupported_model_is_a_config_error_that_lists_the_supported_ones():
    with pytest.raises(ConfigError, match="model: expected one of CBLOF, COPOD, ECOD") as error:
        make_defense("pyod", {"model": "DeepSVDD"})
    assert "'DeepSVDD'" in str(error.value)


def test_seeded_models_are_reproducible_and_the_seed_matters():
    rng = np.random.default_rng(1)
    centres = 5.0 * rng.standard_normal((2, D))
    fit, probe = _episode(rng, 5, centres), _episode(rng, 1, centres)[0]

    def scores(seed):
        detector = make_defense("pyod", {"model": "IForest", "seed": seed})
        detector.fit(fit)
        return detector.score(probe)

    np.testing.assert_array_equal(scores(0), scores(0))
    assert not np.array_equal(scores(0), scores(1))
