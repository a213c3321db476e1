"""Where a suite's time goes: run a sample of its cells in one process, as a pool worker does,
and split the wall time by phase and by operation.

    python experiments/profile_suite.py experiments/suites/defense_matrix.toml --seed 0 --every 4

Phases partition the time (each second counted once, in the innermost phase it was spent):
start-up (imports and loading the forest: what each worker process pays once), twins (the
clean episodes, undefended and defended, and escalation's compared twin), detector fit and
calibration (clean episodes of other seeds, fitting, thresholds), attack plan (an
episode-level attack's search), attacked episode (its rounds, hooks and replays), metrics,
MLflow (logging each cell to a local SQLite store, as ``redteam run`` does) and other.
Operations overlap the phases: the encoder (every ``encode`` of the forest model, wherever it
runs), the attack's hooks (its optimisation and look-ahead) and the defense's hooks.

The script patches the functions it times, so it reads the code it runs: point PYTHONPATH at
another checkout to profile that one (how the before/after figures in docs/results.md were
made). ``--json`` writes the figures.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

began = time.perf_counter()

import torch  # noqa: E402

import redteam.episodes as episodes  # noqa: E402
import redteam.runner as runner  # noqa: E402
from forest.model.modeling_forest import ForestModel  # noqa: E402
from forest.pretrained.modeling import PretrainedForest  # noqa: E402
from redteam.suite import load_suite  # noqa: E402
from redteam.tracking import Tracker  # noqa: E402

imported = time.perf_counter() - began
PHASES = ("start-up", "twins", "detector fit and calibration", "attack plan",
          "attacked episode", "metrics", "MLflow", "other")  # fmt: skip
OPERATIONS = ("encoder", "attack hooks", "defense hooks")


class Timer:
    """Exclusive time per phase (a stack: a phase inside another is its own) and inclusive
    time per operation (outermost call only)."""

    def __init__(self) -> None:
        self.phase: dict[str, float] = defaultdict(float)
        self.operation: dict[str, float] = defaultdict(float)
        self._stack: list[tuple[str, float]] = []
        self._depth: dict[str, int] = defaultdict(int)

    def in_phase(self, name: str, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            now = time.perf_counter()
            if self._stack:
                outer, since = self._stack[-1]
                self.phase[outer] += now - since
            self._stack.append((name, now))
            try:
                return fn(*args, **kwargs)
            finally:
                _, since = self._stack.pop()
                now = time.perf_counter()
                self.phase[name] += now - since
                if self._stack:
                    self._stack[-1] = (self._stack[-1][0], now)

        return timed

    def in_operation(self, name: str, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._depth[name] += 1
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self._depth[name] -= 1
                if not self._depth[name]:
                    self.operation[name] += time.perf_counter() - start

        return timed


def instrument(timer: Timer) -> None:
    cls = runner.CellRunner
    cls.twin = timer.in_phase("twins", cls.twin)
    cls.defense = timer.in_phase("detector fit and calibration", cls.defense)
    cls.plan = timer.in_phase("attack plan", cls.plan)
    # The runner calls these by the names it imported.
    runner.play_attacked = timer.in_phase("attacked episode", runner.play_attacked)
    runner.play_twin = timer.in_phase("twins", runner.play_twin)
    runner.cell_result = timer.in_phase("metrics", runner.cell_result)
    Tracker.log_cell = timer.in_phase("MLflow", Tracker.log_cell)
    for model_class in (ForestModel, PretrainedForest):  # the latter overrides encode
        model_class.encode = timer.in_operation("encoder", model_class.encode)
    episodes._attacked = timer.in_operation("attack hooks", episodes._attacked)
    episodes._defended = timer.in_operation("defense hooks", episodes._defended)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("suite", help="suite file (TOML)")
    parser.add_argument("--seed", type=int, default=0, help="profile this seed's cells")
    parser.add_argument("--every", type=int, default=1, help="every k-th cell of the seed")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    if args.every < 1:
        parser.error("--every: need at least 1")
    suite = load_suite(args.suite)
    cells = [c for c in suite.cells if c.seed == args.seed][:: args.every]
    if not cells:
        parser.error(f"--seed: the suite has no cells of seed {args.seed}")
    timer = Timer()
    instrument(timer)
    torch.set_num_threads(1)  # as the runner plays every cell
    total_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        setup = time.perf_counter()
        tracker = Tracker(f"sqlite:///{folder}/mlflow.db", suite)
        tracker.start()
        timer.phase["MLflow"] += time.perf_counter() - setup
        load_start = time.perf_counter()
        cell_runner = runner.CellRunner()
        cell_runner.policy(cells[0])
        timer.phase["start-up"] += imported + time.perf_counter() - load_start
        for i, cell in enumerate(cells, 1):
            t = time.perf_counter()
            result = cell_runner.run(cell)
            tracker.log_cell(cell, result)
            print(f"[{i}/{len(cells)}] {cell.group}: {time.perf_counter() - t:.1f} s",
                  file=sys.stderr, flush=True)  # fmt: skip
    wall = imported + time.perf_counter() - total_start
    timer.phase["other"] = wall - sum(timer.phase[p] for p in PHASES if p != "other")
    print(f"{len(cells)} cells of seed {args.seed} of {suite.settings.name}: {wall:.1f} s")
    print(f"{'phase':32s} {'seconds':>9s} {'share':>7s}")
    for name in PHASES:
        print(f"{name:32s} {timer.phase[name]:9.1f} {timer.phase[name] / wall:7.1%}")
    print(f"{'operation (overlaps the phases)':32s}")
    for name in OPERATIONS:
        print(f"{name:32s} {timer.operation[name]:9.1f} {timer.operation[name] / wall:7.1%}")
    if args.json:
        figures = {"cells": len(cells), "wall_seconds": wall,
                   "phases": {p: timer.phase[p] for p in PHASES},
                   "operations": {o: timer.operation[o] for o in OPERATIONS}}  # fmt: skip
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
