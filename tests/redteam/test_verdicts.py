"""A verdict says what was prevented: "holds" needs a significant fall against no defense."""

from __future__ import annotations

import numpy as np
import pandas as pd

from redteam.verdicts import verdicts


def cells(defended: dict[str, list[float]], undefended: dict[str, list[float]],
          attack: str = "ipm", defense: str = "shield") -> pd.DataFrame:  # fmt: skip
    seeds = len(next(iter(defended.values())))
    base = {"harm": 0.0, "attack_success_rate": 0.0, "blast_radius_final": 0.0,
            "defense_clean_cost": 0.0}  # fmt: skip
    rows = []
    for seed in range(seeds):
        for name, figures, label in ((defense, defended, attack), ("", undefended, "ipm")):
            own = {k: v[seed] for k, v in figures.items()}
            group = f"supply_chain | {label} | {name or 'no defense'}"
            rows.append({"group": group, "seed": seed, **base, **own})
    return pd.DataFrame(rows)


def only(frame: pd.DataFrame):
    (verdict,) = verdicts(frame)
    return verdict


def test_a_defense_that_lowers_harm_on_every_seed_holds():
    v = only(cells({"harm": [0.1, 0.2, 0.15]}, {"harm": [1.0, 1.1, 0.9]}))
    assert v.word == "holds" and v.prevented == ("harm",)


def test_seeing_every_attacker_without_preventing_anything_does_not_hold():
    """Detection is reported beside the verdict, never instead of it."""
    same = {"harm": [1.0, 1.1, 0.9], "attack_success_rate": [1.0, 1.0, 1.0]}
    frame = cells(same, same)
    frame["detection_tpr"] = 1.0
    assert only(frame).word == "breaks"


def test_a_fall_inside_seed_noise_breaks():
    v = only(cells({"harm": [0.2, 1.4, 0.3]}, {"harm": [1.0, 0.5, 0.9]}))
    assert v.word == "breaks" and not v.changes["harm"].significant


def test_a_defense_that_spreads_the_poison_further_is_worse_even_if_success_falls():
    v = only(cells({"blast_radius_final": [0.9, 0.8, 0.85], "attack_success_rate": [0, 0, 0]},
                   {"blast_radius_final": [0.3, 0.2, 0.25],
                    "attack_success_rate": [1, 1, 1]}))  # fmt: skip
    assert v.word == "worse"


def test_one_seed_has_no_interval_and_never_holds():
    assert only(cells({"harm": [0.0]}, {"harm": [5.0]})).word == "breaks"


def test_an_adaptive_attack_is_compared_with_the_plain_attack_undefended():
    v = only(cells({"harm": [0.1, 0.1, 0.2]}, {"harm": [1.0, 1.2, 1.1]}, attack="ipm adaptive"))
    assert v.attack == "supply_chain | ipm adaptive"
    np.testing.assert_allclose(v.changes["harm"].mean, np.mean([0.1, 0.1, 0.2]) - 1.1)
    assert v.word == "holds"


def test_two_entries_of_one_defense_under_different_labels_get_a_verdict_each():
    frame = pd.concat([
        cells({"harm": [0.1, 0.2, 0.15]}, {"harm": [1.0, 1.1, 0.9]}, defense="trimmed mean"),
        cells({"harm": [1.0, 1.1, 0.9]}, {"harm": [1.0, 1.1, 0.9]}, defense="median"),
    ]).drop_duplicates(subset=["group", "seed"])  # fmt: skip
    words = {v.defense: v.word for v in verdicts(frame)}
    assert words == {"trimmed mean": "holds", "median": "breaks"}
    assert all(v.changes["harm"].n == 3 for v in verdicts(frame))
