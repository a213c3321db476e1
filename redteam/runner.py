"""Running one cell: load the forest once per process, play the twin and the attacked episode.

Cells run on one torch thread wherever they run (in this process or a worker): matrix products
split their sums by thread count, and one count everywhere keeps every metric bit-identical
between executors and reruns. Clean twins and detector calibrations are shared by every cell
of the same economy and seed in a process, since no attack touches them, and so are the encoded
agent rows (``forest.encoding_cache``): an attacked episode encodes only the agents whose
inputs departed from every episode played before it.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from attacks import Attack, Plan, make_attack
from attacks.placebo import Placebo
from defenses import Defense, RoundSignals, make_defense
from forest.checkpoints import checkpoint_digest, load_policy
from forest.errors import InvalidInputError
from forest.policy import ForestPolicy
from redteam.cell import Cell
from redteam.counterfactual import (
    TwinRecord,
    clean_signals,
    judge_success,
    play_attacked,
    play_twin,
)
from redteam.episodes import build_economy, fresh_policy
from redteam.metrics import CellResult, Twins, cell_result
from redteam.planning import SimulatorOracle
from redteam.transfer import TransferredAttack

ATTACK_STREAM = 0xA77AC  # the attack's random stream: never the world's or the policy's


def _key(*parts: object) -> str:
    return json.dumps(parts, sort_keys=True, default=list)


def plan_key(cell: Cell) -> str:
    """What an episode-level attack's plan is shared by: every seed of the cell's variant and
    its placebo."""
    ident = cell.identity()
    ident.pop("placebo", None)
    if not cell.threat.get("adaptive", False):
        # An adaptive attacker plans against the deployed defense, fitted on clean episodes
        # of seeds that follow the cell's own: its plan is the seed's.
        ident.pop("seed")
    return _key(ident)


def setup_key(cell: Cell) -> str:
    """What a cell's clean twins and fitted defense are shared by: the economy, seed and
    defense (the attack plays no part in them)."""
    return _key(
        cell.economy,
        cell.economy_config,
        cell.seed,
        cell.rounds,
        cell.checkpoint_digest,
        cell.router,
        cell.defense,
        cell.defense_params,
        cell.metrics.get("calibration_seed_offset"),
    )


class CellRunner:
    """Plays cells, keeping what cells share (the policy, twins, clean detector signals, fitted
    detectors)."""

    def __init__(self) -> None:
        self._policies: dict[str, ForestPolicy] = {}
        self._twins: dict[tuple[str, int | None], TwinRecord] = {}
        self._defenses: dict[str, Defense] = {}
        self._signals: dict[str, list[RoundSignals]] = {}
        self._plans: dict[str, Plan | None] = {}

    def _loaded(self, path: str, digest: str) -> ForestPolicy:
        key = _key(path, digest)
        if key not in self._policies:
            if checkpoint_digest(Path(path)) != digest:
                raise InvalidInputError(
                    f"checkpoint: {path} changed since the suite was loaded; "
                    "its cells would be logged under the old weights' hash"
                )
            self._policies[key] = load_policy(Path(path))
        return self._policies[key]

    def policy(self, cell: Cell) -> ForestPolicy:
        return fresh_policy(self._loaded(cell.checkpoint, cell.checkpoint_digest), cell.router)

    def attack(self, cell: Cell, given: Attack | None = None) -> Attack:
        """A fresh instance of the cell's attack (or ``given``, not yet played): its placebo
        if the cell plays one; with a surrogate, optimised on that forest and played on the
        deployed one (a transfer)."""
        attack = (
            make_attack(cell.attack, cell.attack_params, cell.threat) if given is None else given
        )
        if cell.placebo:
            attack = Placebo(attack)
        if not cell.surrogate:
            return attack
        surrogate = self._loaded(cell.surrogate, cell.surrogate_digest)
        return TransferredAttack(attack, fresh_policy(surrogate, use_router=True))

    def twin(self, cell: Cell, mitigation: Defense | None = None) -> TwinRecord:
        """The clean episode of the cell's seed, defended by ``mitigation`` if one is given
        (escalating on its own triggers)."""
        key = _key(
            cell.economy,
            cell.economy_config,
            cell.seed,
            cell.rounds,
            cell.checkpoint_digest,
            cell.router,
            None if mitigation is None else (cell.defense, cell.defense_params),
        )
        # Only a defended twin is certified (an undefended forest has no certificate), so the
        # undefended one is shared whatever ``certified_k`` is.
        certified_k = None if mitigation is None else cell.metrics["certified_k"]
        key = (key, certified_k)
        if key not in self._twins:
            economy = build_economy(cell.economy, cell.economy_config, cell.seed)
            self._twins[key] = play_twin(
                economy, self.policy(cell), cell.rounds, mitigation, certified_k=certified_k
            )
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
            fit, calibrate = (self.clean_signals(cell, cell.seed + k * offset) for k in (1, 2))
            defense.fit(fit)
            defense.calibrate(calibrate)
        return self._defenses[key]

    def plan(self, cell: Cell, attack: Attack, defense: Defense | None) -> Plan | None:
        """The attack's plan (None for a one-round attack), searched once for every seed of the
        cell's variant and its placebo (for each seed, if the attacker adapts to the defense),
        on the attacker's own seeds (``redteam.planning``)."""
        key = plan_key(cell)
        if key not in self._plans:
            self._plans[key] = attack.plan(self.oracle(cell, attack, defense))
        return self._plans[key]

    def oracle(self, cell: Cell, attack: Attack, defense: Defense | None) -> SimulatorOracle:
        """The simulator ``attack`` plans with in ``cell``: against ``defense`` only if the
        threat is adaptive."""
        shown = defense if attack.threat.adaptive else None
        mitigation = shown if shown is not None and not shown.watches_only else None
        economy = build_economy(cell.economy, cell.economy_config, cell.seed)
        return SimulatorOracle(
            rounds=cell.rounds,
            roles=tuple(int(r) for r in np.unique(economy.role)),
            economy_of=lambda seed: build_economy(cell.economy, cell.economy_config, seed),
            twin_of=lambda seed: self.twin(replace(cell, seed=seed), mitigation),
            policy_of=lambda: self.policy(cell),
            defense=shown,
        )

    def clean_signals(self, cell: Cell, seed: int) -> list[RoundSignals]:
        """What a detector sees in a clean episode of ``seed``: shared by every detector of the
        process (the defense matrix fits four on the same episodes)."""
        key = _key(cell.economy, cell.economy_config, seed, cell.rounds,
                   cell.checkpoint_digest, cell.router)  # fmt: skip
        if key not in self._signals:
            economy = build_economy(cell.economy, cell.economy_config, seed)
            self._signals[key] = clean_signals(economy, self.policy(cell), cell.rounds)
        return self._signals[key]

    def run(self, cell: Cell, attack: Attack | None = None) -> CellResult:
        """Play ``cell`` and measure it; deterministic given the cell. ``attack``, not yet
        played, replaces the cell's own instance (a study that records what its attack did
        passes its own and reads it afterwards; an escalation target gets a copy)."""
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            baseline = self.twin(cell)
            defense = self.defense(cell)
            # Anything but a pure detector changes the forest: its twin is defended too.
            mitigates = defense is not None and not defense.watches_only
            twin = self.twin(cell, defense) if mitigates else baseline
            policy = self.policy(cell)
            economy = build_economy(cell.economy, cell.economy_config, cell.seed)
            given = attack
            attack = self.attack(cell, given)
            rng = np.random.default_rng(np.random.SeedSequence([cell.seed, ATTACK_STREAM]))
            target = None if defense is None else defense.escalation_target()
            fallback = None
            if target is not None:
                # The attack acts on the escalation target too, as a second instance with its
                # own state and random stream.
                stream = np.random.SeedSequence([cell.seed, ATTACK_STREAM, 1])
                second = None if given is None else copy.deepcopy(given)
                fallback = (self.attack(cell, second), np.random.default_rng(stream))
            plan = self.plan(cell, attack, defense)
            if plan is not None:
                attack.adopt(plan)
                if fallback is not None:
                    fallback[0].adopt(plan)
            n_trees = int(np.unique(economy.tree_ids()).size)
            record = play_attacked(economy, policy, attack, defense, twin, rng, fallback)
            compared = twin
            if target is not None:
                compared = play_twin(
                    build_economy(cell.economy, cell.economy_config, cell.seed),
                    self.policy(cell), cell.rounds, defense, schedule=record.escalated,
                )  # fmt: skip
                success = judge_success(attack, record, compared, economy.role)
                record = replace(record, success=success)
            result = cell_result(
                cell,
                Twins(baseline, twin, compared),
                record,
                policy.model.config,
                n_trees,
                attack.first_round,
                None if target is None else target.policy.model.config,
            )
            # The attacker's search before the episode (an episode-level attack's plan), its
            # compute beside the per-round compute in seconds_attack.
            searched = {
                "attack_plan_queries": 0.0 if plan is None else float(plan.queries),
                "attack_plan_seconds": 0.0 if plan is None else plan.seconds,
                # What the plan promised on the attacker's own simulated episodes, beside the
                # harm it did on the measured one.
                "attack_plan_harm": float("nan") if plan is None else plan.harm,
            }
            return replace(
                result,
                scalars={**result.scalars, **searched},
                plan=None if plan is None else plan.policy,
            )
        finally:
            torch.set_num_threads(threads)


_PROCESS_RUNNER = CellRunner()


def run_cell(cell: Cell) -> CellResult:
    """``CellRunner.run`` with this process's shared runner (what executors call)."""
    return _PROCESS_RUNNER.run(cell)
