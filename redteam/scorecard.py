"""The suite's results: one row per cell, and per group (a variant over its seeds) the mean
with a Student-t interval over seeds (``redteam.intervals``: honest with two or three seeds,
where a bootstrap of seed means is their range), as tables for the terminal and for files.
Harm leads: the economy's welfare lost against the clean twin."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from rich.markup import escape
from rich.table import Table

from redteam.intervals import PairedDifference, t_interval
from redteam.metrics import TIMING_METRICS, CellResult

# (metric, column header) shown in the terminal; every metric is in the files.
SCORECARD = (
    ("harm", "harm"),
    ("attack_success_rate", "ASR"),
    ("blast_radius_final", "blast radius"),
    ("r0", "R0"),
    ("channel_attention", "via attention"),
    ("channel_messages", "via messages"),
    ("channel_state", "via state"),
    ("utility_under_attack", "completion under attack"),
    ("detection_tpr", "det. TPR"),
    ("detection_auc", "det. AUC"),
)
CAPTION = (
    "mean over seeds [95% t interval over seeds]; ns: not significant, the interval holds 0; "
    "—: undefined. harm: the economy's welfare lost against the clean twin from the attack's "
    "start (supply chain: total cost per agent-round; pricing: consumer surplus per "
    "market-round; exchange: realised surplus per market-round). via: the share of infections "
    "(pooled over seeds) that vanish when the round is replayed with the attackers' summaries "
    "(attention) or messages restored; state: what no replay undoes, left behind by earlier "
    "rounds (the economy's state and the agents' memories); the joint and either shares are "
    "in cells.csv"
)


@dataclass(frozen=True)
class GroupRow:
    group: str
    economy: str
    attack: str
    attack_label: str
    defense: str | None
    sweep: tuple[str, float] | None
    seeds: tuple[int, ...]
    estimates: dict[str, PairedDifference]


def pooled_share(cells: Sequence[CellResult], metric: str) -> PairedDifference:
    """A channel's share of the group's infections, pooled over seeds (a seed without any
    infection has no shares and adds nothing); no interval: a descriptive share."""
    weight = "new_infections" if metric.startswith("channel_new_") else "infected_agent_rounds"
    weights = np.array([c.scalars[weight] for c in cells])
    shares = np.array([c.scalars[metric] for c in cells])
    total = weights.sum()
    share = float((np.nan_to_num(shares) * weights).sum() / total) if total else float("nan")
    return PairedDifference(share, float("nan"), float("nan"), len(cells), "pooled share")


def group_rows(results: Sequence[CellResult], confidence: float = 0.95) -> list[GroupRow]:
    """Groups in the order they first appear; every scalar metric estimated across seeds.
    Harm and the other attacked-minus-twin figures are paired within each seed already, so
    the seeds are the independent units of every interval."""
    groups: dict[str, list[CellResult]] = {}
    for result in results:
        groups.setdefault(result.group, []).append(result)
    rows = []
    for name, cells in groups.items():
        cells = sorted(cells, key=lambda c: c.seed)
        first = cells[0]
        estimates = {
            metric: pooled_share(cells, metric)
            if metric.startswith("channel_")
            else t_interval(np.array([c.scalars[metric] for c in cells]), confidence)
            for metric in first.scalars
        }
        rows.append(
            GroupRow(
                name,
                first.economy,
                first.attack,
                first.attack_label,
                first.defense,
                first.sweep,
                tuple(c.seed for c in cells),
                estimates,
            )
        )
    return rows


def zero_success_warnings(rows: Sequence[GroupRow]) -> list[str]:
    """A 0% attack success is a finding only if the attack works: say so wherever it shows."""
    return [
        f"{row.group}: 0% attack success on every seed; the attack may be broken or too weak "
        "(check its budget, objective and start round) rather than the forest robust"
        for row in rows
        if row.estimates["attack_success_rate"].mean == 0.0
    ]


def terminal_table(rows: Sequence[GroupRow], title: str) -> Table:
    table = Table(title=title, caption=escape(CAPTION))
    for header in ("economy", "attack", "defense", "seeds"):
        table.add_column(header, overflow="fold")
    for _, header in SCORECARD:
        table.add_column(header, justify="right")
    for row in rows:
        table.add_row(
            row.economy,
            row.attack_label,
            row.defense or "none",
            str(len(row.seeds)),
            *(escape(row.estimates[m].short()) for m, _ in SCORECARD),
        )
    return table


def cells_frame(results: Sequence[CellResult]) -> pd.DataFrame:
    """One row per cell: what it was and every scalar it measured."""
    return pd.DataFrame(
        [
            {
                "group": r.group,
                "economy": r.economy,
                "attack": r.attack_label,
                "defense": r.defense or "",
                "seed": r.seed,
                "cell_hash": r.cell_hash,
                "run_id": r.run_id or "",
                **r.scalars,
            }
            for r in results
        ]
    )


def groups_frame(rows: Sequence[GroupRow]) -> pd.DataFrame:
    """One row per group: mean, low and high of every metric."""
    records = []
    for row in rows:
        record: dict[str, object] = {"group": row.group, "seeds": len(row.seeds)}
        for metric, est in row.estimates.items():
            record[metric] = est.mean
            record[f"{metric}_low"] = est.low
            record[f"{metric}_high"] = est.high
        records.append(record)
    return pd.DataFrame(records)


def deterministic_scalars(scalars: dict[str, float]) -> dict[str, float | str]:
    """The scalars that must repeat exactly between runs (NaN as "nan", so it equals itself)."""
    return {
        k: (repr(v) if np.isnan(v) else v) for k, v in scalars.items() if k not in TIMING_METRICS
    }
