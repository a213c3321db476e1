"""Properties every detector keeps on any clean-looking data: finite scores, one per agent;
scores that follow the agents when they are renumbered; and calibration that holds its target
false-positive rate on the very rounds it was set on (which fails if scoring is not repeatable
after ``reset``)."""

import dataclasses

import numpy as np
from budget import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from defenses import RoundSignals, defense_class, defense_names, make_defense

DETECTORS = [name for name in defense_names() if defense_class(name).kind == "detector"]
TARGET_FPR = 0.1


def params(name):
    """The target FPR, and few trees for ensembles: the properties are the interface's."""
    fields = {f.name for f in dataclasses.fields(defense_class(name).params_class)}
    return {"target_fpr": TARGET_FPR, **({"n_estimators": 10} if "n_estimators" in fields else {})}


def episode(rng, n, d, rounds, order=None):
    """Rounds of synthetic signals: two roles with their own mean summary, drifting slowly, in
    trees of four agents."""
    roles = np.arange(n) % 2
    tree = np.arange(n) // 4
    centres = rng.standard_normal((2, d))
    out = []
    for t in range(rounds):
        summaries = centres[roles] + 0.3 * rng.standard_normal((n, d)) + 0.01 * t
        actions = rng.integers(0, 10, n)
        share = rng.uniform(0.5, 2.0, n)
        signals = (summaries, roles, actions, share, tree)
        if order is not None:
            signals = tuple(a[order] for a in signals)
        out.append(RoundSignals(t, *signals))
    return out


@settings(max_examples=examples(10), deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(12, 40),
    d=st.integers(2, 12),
    rounds=st.integers(3, 6),
)
def test_detectors_score_every_agent_finitely_follow_renumbering_and_hold_calibration(
    seed, n, d, rounds
):
    order = np.random.default_rng(seed).permutation(n)
    for name in DETECTORS:
        fit, calibration, scored = (episode(np.random.default_rng([seed, i]), n, d, rounds)
                                    for i in range(3))  # fmt: skip
        permuted = episode(np.random.default_rng([seed, 2]), n, d, rounds, order)
        detector = make_defense(name, params(name))
        detector.fit(fit)
        detector.calibrate(calibration)
        detector.reset()
        again = np.concatenate([detector.score(r) for r in calibration])
        assert (again > detector.threshold).mean() <= TARGET_FPR, name
        detector.reset()
        scores = [detector.score(r) for r in scored]
        detector.reset()
        renumbered = [detector.score(r) for r in permuted]
        for plain, moved in zip(scores, renumbered, strict=True):
            assert plain.shape == (n,) and np.isfinite(plain).all(), name
            np.testing.assert_allclose(moved, plain[order], rtol=1e-6, atol=1e-9, err_msg=name)
