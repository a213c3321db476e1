"""Running one cell: load the forest once per process, play the twin and the attacked episode.

Cells run on one torch thread wherever they run (in this process or a worker): matrix products
split their sums by thread count, and one count everywhere keeps every metric bit-identical
between executors and reruns. Clean twins and detector calibrations are shared by every cell
of the same economy and seed in a process, since no attack touches them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from attacks import make_attack
from defenses import Defense, make_defense
from forest.errors import InvalidInputError
from forest.policy import ForestPolicy
from forest.training.checkpoints import checkpoint_digest, load_policy
from redteam.cell import Cell
from redteam.episodes import (
    TwinRecord,
    build_economy,
    clean_signals,
    fresh_policy,
    play_attacked,
    play_twin,
)
from redteam.metrics import CellResult, cell_result

ATTACK_STREAM = 0xA77AC  # the attack's random stream: never the world's or the policy's


def _key(*parts: object) -> str:
    return json.dumps(parts, sort_keys=True, default=list)


class CellRunner:
    """Plays cells, keeping what cells share (the policy, twins, fitted detectors)."""

    def __init__(self) -> None:
        self._policies: dict[str, ForestPolicy] = {}
        self._twins: dict[str, TwinRecord] = {}
        self._defenses: dict[str, Defense] = {}

    def policy(self, cell: Cell) -> ForestPolicy:
        key = _key(cell.checkpoint, cell.checkpoint_digest)
        if key not in self._policies:
            if checkpoint_digest(Path(cell.checkpoint)) != cell.checkpoint_digest:
                raise InvalidInputError(
                    f"checkpoint: {cell.checkpoint} changed since the suite was loaded; "
                    "its cells would be logged under the old weights' hash"
                )
            self._policies[key] = load_policy(Path(cell.checkpoint))
        return fresh_policy(self._policies[key], cell.router)

    def twin(self, cell: Cell, mitigation: Defense | None = None) -> TwinRecord:
        """The clean episode of the cell's seed, defended by ``mitigation`` if one is given."""
        key = _key(
            cell.economy,
            cell.economy_config,
            cell.seed,
            cell.rounds,
            cell.checkpoint_digest,
            cell.router,
            None if mitigation is None else (cell.defense, cell.defense_params),
        )
        if key not in self._twins:
            economy = build_economy(cell.economy, cell.economy_config, cell.seed)
            self._twins[key] = play_twin(economy, self.policy(cell), cell.rounds, mitigation)
        return self._twins[key]

    def defense(self, cell: Cell) -> Defense | None:
        """The cell's defense; a detector is fitted on a clean episode of seed ``seed + offset``
        and calibrated on another of seed ``seed + 2 * offset``: never on the cell's own seed."""
        if cell.defense is None:
            return None
        offset = int(cell.metrics["calibration_seed_offset"])
        key = _key(
            cell.economy,
            cell.economy_config,
            cell.seed,
            offset,
            cell.rounds,
            cell.checkpoint_digest,
            cell.router,
            cell.defense,
            cell.defense_params,
        )
        if key not in self._defenses:
            defense = make_defense(cell.defense, cell.defense_params)
            self._defenses[key] = defense
            if not defense.scores_agents:
                return defense
            fit, calibrate = (
                clean_signals(
                    build_economy(cell.economy, cell.economy_config, cell.seed + k * offset),
                    self.policy(cell),
                    cell.rounds,
                )
                for k in (1, 2)
            )
            defense.fit(fit)
            defense.calibrate(calibrate)
        return self._defenses[key]

    def run(self, cell: Cell) -> CellResult:
        """Play ``cell`` and measure it; deterministic given the cell."""
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            baseline = self.twin(cell)
            defense = self.defense(cell)
            # Anything but a pure detector changes the forest: its twin is defended too.
            mitigates = defense is not None and defense.kind != "detector"
            twin = self.twin(cell, defense) if mitigates else baseline
            policy = self.policy(cell)
            economy = build_economy(cell.economy, cell.economy_config, cell.seed)
            attack = make_attack(cell.attack, cell.attack_params, cell.threat)
            rng = np.random.default_rng(np.random.SeedSequence([cell.seed, ATTACK_STREAM]))
            fallback = None
            large_config = None
            if defense is not None and defense.kind == "escalation":
                # The attack acts on the large model too, as a second instance with its own
                # state and random stream.
                stream = np.random.SeedSequence([cell.seed, ATTACK_STREAM, 1])
                fallback = (
                    make_attack(cell.attack, cell.attack_params, cell.threat),
                    np.random.default_rng(stream),
                )
                large_config = defense.large_policy().model.config
            n_trees = int(np.unique(economy.tree_ids()).size)
            record = play_attacked(economy, policy, attack, defense, twin, rng, fallback)
            return cell_result(
                cell,
                baseline,
                twin,
                record,
                policy.model.config,
                n_trees,
                attack.first_round,
                large_config,
            )
        finally:
            torch.set_num_threads(threads)


_PROCESS_RUNNER = CellRunner()


def run_cell(cell: Cell) -> CellResult:
    """``CellRunner.run`` with this process's shared runner (what executors call)."""
    return _PROCESS_RUNNER.run(cell)
