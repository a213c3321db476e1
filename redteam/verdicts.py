"""Verdicts that need prevention: what a defense changed against no defense, paired per seed.

A verdict compares each defended cell with the undefended cell of the same economy, seed and
attack (its non-adaptive form: an adaptive attack shown no defense is the plain attack), on the
figures an attack is after: harm (the economy's welfare lost), attack success and spread (blast
radius). Each difference (defended minus undefended) gets a t interval over seeds
(``redteam.intervals``). A defense

- **holds** when harm, success or spread falls with an interval that excludes 0 and none rises
  significantly;
- is **worse** when harm or spread rises significantly (the cure hurts), whatever else falls;
- **breaks** otherwise: nothing it did is told apart from seed noise.

What it sees is reported beside the verdict, never instead of it: the detector's TPR and FPR as
flagged at the deployed, calibrated threshold and its ROC AUC; the clean cost (welfare the
defense costs the clean twin) is its own interval. With one seed no interval exists and no
defense holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from redteam.intervals import PairedDifference, t_interval

NO_DEFENSE = "no defense"
PREVENTION = ("harm", "attack_success_rate", "blast_radius_final")
HARMS = ("harm", "blast_radius_final")  # what must not rise


@dataclass(frozen=True)
class Verdict:
    attack: str
    defense: str
    word: str  # holds | worse | breaks
    changes: dict[str, PairedDifference]  # defended - undefended, per figure of PREVENTION
    clean_cost: PairedDifference  # welfare the defense costs the clean twin

    @property
    def prevented(self) -> tuple[str, ...]:
        """The figures the defense lowered significantly."""
        return tuple(k for k, d in self.changes.items() if d.significant and d.high < 0)


def _base(attack: str) -> str:
    return attack.removesuffix(" adaptive")


def _word(changes: dict[str, PairedDifference]) -> str:
    if any(changes[k].significant and changes[k].low > 0 for k in HARMS):
        return "worse"
    rose = any(d.significant and d.low > 0 for d in changes.values())
    fell = any(d.significant and d.high < 0 for d in changes.values())
    return "holds" if fell and not rose else "breaks"


def labelled(cells: pd.DataFrame) -> pd.DataFrame:
    """Cells keyed by what the suite calls them (its labels), from each cell's group: two
    entries of one defense or economy under different labels stay apart."""
    parts = cells["group"].str.split(" | ", n=2, expand=True, regex=False)
    return cells.assign(economy=parts[0], attack=parts[1], defense=parts[2])


def verdicts(cells: pd.DataFrame, confidence: float = 0.95) -> list[Verdict]:
    """One verdict per defended (economy, attack, defense) of a suite's ``cells.csv`` frame
    (its ``group`` column, "economy | attack | defense" labels, a ``seed`` and the scalars)."""
    cells = labelled(cells)
    reference = cells[cells["defense"] == NO_DEFENSE].set_index(["economy", "attack", "seed"])
    out = []
    defended = cells[cells["defense"] != NO_DEFENSE]
    for (economy, attack, defense), rows in defended.groupby(
        ["economy", "attack", "defense"], sort=False
    ):
        keys = [(economy, _base(attack), seed) for seed in rows["seed"]]
        if any(k not in reference.index for k in keys):
            continue  # no undefended cell of the same attack and seed to compare with
        base = reference.loc[keys]
        changes = {
            figure: t_interval(rows[figure].to_numpy() - base[figure].to_numpy(), confidence)
            for figure in PREVENTION
        }
        clean = t_interval(rows["defense_clean_cost"].to_numpy(np.float64), confidence)
        out.append(Verdict(f"{economy} | {attack}", defense, _word(changes), changes, clean))
    return out
