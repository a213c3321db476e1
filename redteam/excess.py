"""Spread and harm as excess over the placebo: each attack against its own budget spent at
random (``attacks.placebo``), paired per seed with a t interval over seeds.

An attack whose excess holds 0 did no more than random perturbations of the same size: "weak
attack" and "robust model" are told apart by an attack that does beat its placebo.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from redteam.intervals import PairedDifference, t_interval

PLACEBO = " placebo"
FIGURES = ("harm", "blast_radius_final", "attack_success_rate")


@dataclass(frozen=True)
class Excess:
    group: str  # economy | attack | defense of the attack (not the placebo)
    excess: dict[str, PairedDifference]  # attack - placebo, per figure of FIGURES


def excess_over_placebo(cells: pd.DataFrame, confidence: float = 0.95) -> list[Excess]:
    """One row per attack group of a ``cells_frame`` whose placebo was played too."""
    placebos = cells[cells["attack"].str.endswith(PLACEBO)]
    out = []
    for group, rows in cells[~cells["attack"].str.endswith(PLACEBO)].groupby("group", sort=False):
        economy, attack, defense = group.split(" | ", 2)
        twin = placebos[placebos["group"] == f"{economy} | {attack}{PLACEBO} | {defense}"]
        paired = rows.merge(twin, on="seed", suffixes=("", "_placebo"))
        if paired.empty:
            continue
        out.append(Excess(group, {
            figure: t_interval((paired[figure] - paired[f"{figure}_placebo"]).to_numpy(),
                               confidence)
            for figure in FIGURES
        }))  # fmt: skip
    return out


CAPTION = "Excess over placebo (attack minus its budget spent at random, paired per seed):"
HEADERS = ("group", "harm", "blast radius", "ASR")


def table(rows: list[Excess]) -> list[list[str]]:
    """The excess table's rows under ``HEADERS``: each figure with its interval."""
    return [[row.group, *(row.excess[f].text() for f in FIGURES)] for row in rows]


def markdown(rows: list[Excess]) -> list[str]:
    """The report's table of excess over placebo (no lines when no placebo was played)."""
    if not rows:
        return []
    lines = ["", CAPTION, "", "| " + " | ".join(HEADERS) + " |", "|---|---|---|---|"]
    return lines + ["| " + " | ".join(cells) + " |" for cells in table(rows)]
