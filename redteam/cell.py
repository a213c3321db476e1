"""A cell: one deterministic experiment of a suite, and the content hash it is found by.

The hash covers everything that determines a cell's results (the resolved economy, attack,
threat model, defense and metric settings, the seed, the checkpoint's weights and the harness
version) and nothing that only names things, so a renamed entry finds its finished results and
a retrained checkpoint never does.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

# Part of every cell's hash: bump it when a change to the harness changes what a cell measures,
# so that a resumed sweep never mixes results measured two ways.
HARNESS_VERSION = 9


@dataclass(frozen=True)
class Cell:
    """One deterministic experiment: an attack (maybe a defense) on one economy and seed."""

    suite: str
    economy: str
    economy_label: str
    economy_config: dict[str, Any]  # resolved: every field of the economy's config
    attack: str
    attack_label: str
    attack_params: dict[str, Any]  # resolved, defaults filled in
    threat: dict[str, Any]
    sweep: tuple[str, float] | None  # the swept parameter and its value in this variant
    defense: str | None
    defense_label: str
    defense_params: dict[str, Any]
    seed: int
    rounds: int
    checkpoint: str
    checkpoint_digest: str
    router: bool
    metrics: dict[str, Any]
    # A content hash of what the defense loads (escalation: the large checkpoint); empty when
    # it loads nothing, and then left out of the identity so that those cells keep their hash.
    defense_digest: str = ""
    # A transfer: the checkpoint the attack is optimised on, when not the deployed forest
    # (``redteam.transfer``); empty otherwise, and then left out of the identity.
    surrogate: str = ""
    surrogate_digest: str = ""
    placebo: bool = False  # the attack's placebo (attacks.placebo); left out of the identity if not

    def identity(self) -> dict[str, Any]:
        """What determines the cell's results: everything but names and paths for display."""
        ident = dataclasses.asdict(self)
        ident["harness_version"] = HARNESS_VERSION
        for display_only in (
            "suite",
            "economy_label",
            "attack_label",
            "defense_label",
            "checkpoint",
        ):
            ident.pop(display_only)
        ident.pop("surrogate")  # a path: its digest stands for it
        for optional in ("defense_digest", "surrogate_digest", "placebo"):
            if not ident[optional]:
                ident.pop(optional)
        return ident

    @property
    def hash(self) -> str:
        blob = json.dumps(self.identity(), sort_keys=True, default=list)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @property
    def group(self) -> str:
        """The scorecard row the cell belongs to (every seed of one variant)."""
        return f"{self.economy_label} | {self.attack_label} | {self.defense_label}"

    @property
    def n_agents(self) -> int:
        return int(self.economy_config["n_agents"])
