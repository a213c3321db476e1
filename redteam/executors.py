"""Where cells run: in this process, or in a pool of local worker processes.

An executor takes cells and yields ``(cell, result)`` as each finishes, in any order; the
caller logs every result the moment it arrives, so a crash loses at most the cells in flight.
``redteam.ray_executor`` runs them as Ray tasks through the same ``run``; nothing else changes.
"""

from __future__ import annotations

import multiprocessing
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

from forest.errors import ConfigError
from redteam.cell import Cell
from redteam.metrics import CellResult
from redteam.runner import plan_key, run_cell, setup_key


class Executor(ABC):
    name: str

    @abstractmethod
    def run(self, cells: Sequence[Cell]) -> Iterator[tuple[Cell, CellResult]]: ...


class InProcess(Executor):
    name = "in-process"

    def run(self, cells: Sequence[Cell]) -> Iterator[tuple[Cell, CellResult]]:
        for cell in cells:
            yield cell, run_cell(cell)


class LocalPool(Executor):
    """``workers`` spawned processes, each with its own loaded forest and caches.

    Each worker is handed the next cell that shares most with what it has already played: the
    same episode-level plan first, then the same clean twins and fitted defense. A plan or a
    twin is then worked out in one process instead of in each, and a worker only takes a cell
    another has started on when nothing else is left (it never waits while cells remain).
    """

    name = "local-pool"

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def run(self, cells: Sequence[Cell]) -> Iterator[tuple[Cell, CellResult]]:
        # Spawn, not fork: torch's thread pools do not survive a fork. One single-process pool
        # per worker, so that a cell goes to the process that holds what it shares.
        context = multiprocessing.get_context("spawn")
        pools = [ProcessPoolExecutor(1, mp_context=context) for _ in range(self.workers)]
        queue = AffinityQueue(cells, self.workers)
        try:
            pending: dict[Future[CellResult], tuple[int, Cell]] = {}
            for worker, pool in enumerate(pools):
                cell = queue.take(worker)
                if cell is not None:
                    pending[pool.submit(run_cell, cell)] = (worker, cell)
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    worker, cell = pending.pop(future)
                    result = future.result()
                    following = queue.take(worker)
                    if following is not None:
                        pending[pools[worker].submit(run_cell, following)] = (worker, following)
                    yield cell, result
        finally:
            # On an error or an interruption (here or in the caller's logging) stop at once:
            # queued cells would otherwise all run before the error surfaces, and the cells in
            # flight would keep their workers busy, orphaned at full CPU, after this process ends
            # (their results would be thrown away: the resumed run plays them again). After a
            # normal finish the workers are idle, and terminating them only ends them sooner.
            for pool in pools:
                processes = list((pool._processes or {}).values())  # no public handle in 3.11
                pool.shutdown(wait=False, cancel_futures=True)
                for process in processes:
                    if process.is_alive():
                        process.terminate()


class AffinityQueue:
    """The cells not yet handed out, and which worker holds which plans and twins.

    ``take(worker)`` picks, in the cells' own order among equals, the cell whose plan the
    worker holds, else one whose plan nobody holds yet, else any; within that, the same for its
    twins. Greedy and deterministic; which worker plays a cell never changes its results.
    """

    def __init__(self, cells: Sequence[Cell], workers: int) -> None:
        self._cells = list(cells)
        self._keys = [(plan_key(cell), setup_key(cell)) for cell in self._cells]
        self._held: list[tuple[set[str], set[str]]] = [(set(), set()) for _ in range(workers)]

    def __len__(self) -> int:
        return len(self._cells)

    def _standing(self, worker: int, key: str, kind: int) -> int:
        if key in self._held[worker][kind]:
            return 2
        return 0 if any(key in held[kind] for held in self._held) else 1

    def take(self, worker: int) -> Cell | None:
        if not self._cells:
            return None
        best = max(
            range(len(self._cells)),
            key=lambda i: (
                self._standing(worker, self._keys[i][0], 0),
                self._standing(worker, self._keys[i][1], 1),
                -i,
            ),
        )
        plan, setup = self._keys.pop(best)
        self._held[worker][0].add(plan)
        self._held[worker][1].add(setup)
        return self._cells.pop(best)


EXECUTORS = ("local", "ray")


def make_executor(workers: int, kind: str = "local", address: str | None = None) -> Executor:
    """``local``: this process (1 worker) or a pool of local processes; ``ray``: Ray tasks on
    the cluster at ``address`` (or ``RAY_ADDRESS``, or a private local one of ``workers`` CPUs)."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers: expected an integer >= 1, got {workers!r}")
    if kind not in EXECUTORS:
        raise ConfigError(f"executor: expected one of {', '.join(EXECUTORS)}, got {kind!r}")
    if kind == "ray":
        from redteam.ray_executor import RayExecutor

        return RayExecutor(workers, address)
    if address is not None:
        raise ConfigError("--address: only the ray executor connects to a cluster")
    return InProcess() if workers == 1 else LocalPool(workers)
