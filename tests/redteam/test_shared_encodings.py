"""Sharing encoded rows between episodes (``forest.encoding_cache``, what makes suites several
times faster) changes no figure: a small defense matrix, run with every episode's rows reused
and with every round encoded afresh, gives the same metrics to the last bit."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import redteam
import redteam.episodes
from forest.encoding_cache import EncodingCache
from redteam.metrics import TIMING_METRICS

CHECKPOINT = str(Path(__file__).parents[2] / "checkpoints" / "small")
LARGE = str(Path(__file__).parents[2] / "checkpoints" / "large")
DEFENSES = ["no defense", "mahalanobis", "robust median", "escalation"]


def small_matrix() -> redteam.Suite:
    def attack(name, label, **threat):
        return redteam.AttackEntry(
            name, label=label, params={"start_round": 3} | ({"steps": 3} if "pgd" in name else {}),
            threat={"fraction": 0.05, "knowledge": "white-box", **threat},
            defenses=DEFENSES[1:] if threat else DEFENSES,  # an adaptive attack adapts to one
        )  # fmt: skip

    return redteam.build_suite(
        redteam.SuiteSettings(name="small-matrix", checkpoint=CHECKPOINT, rounds=8, seeds=1),
        economies=[redteam.EconomyEntry("supply_chain", agents=100)],
        attacks=[
            attack("latent-noise", "noise"),
            attack("inner-product-manipulation", "ipm adaptive", adaptive=True),
            attack("latent-pgd", "pgd"),
        ],
        defenses=[
            redteam.DefenseEntry("none", label="no defense"),
            redteam.DefenseEntry("mahalanobis"),
            redteam.DefenseEntry("robust-aggregation", label="robust median",
                                 params={"method": "median"}),
            redteam.DefenseEntry("escalation", params={"checkpoint": LARGE}),
        ],
        metrics=redteam.MetricSettings(blast_radius_rounds=(5,)),
    )  # fmt: skip


def figures(results: redteam.Results) -> dict[tuple[str, int], dict[str, float]]:
    return {
        (r.group, r.seed): {k: v for k, v in r.scalars.items() if k not in TIMING_METRICS}
        for r in results.records
    }


@pytest.mark.slow
def test_a_small_matrix_gives_the_same_figures_with_and_without_shared_encodings(monkeypatch):
    suite = small_matrix()
    shared = figures(redteam.run(suite))
    monkeypatch.setattr(redteam.episodes, "shared_cache", lambda model: EncodingCache(0))
    afresh = figures(redteam.run(suite))
    assert shared.keys() == afresh.keys() and len(shared) == 11
    for cell, values in shared.items():
        differ = {
            k: (v, afresh[cell][k]) for k, v in values.items()
            if not (v == afresh[cell][k] or (math.isnan(v) and math.isnan(afresh[cell][k])))
        }  # fmt: skip
        assert not differ, (cell, differ)
