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
from redteam.runner import run_cell


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
    """``workers`` spawned processes, each with its own loaded forest and caches."""

    name = "local-pool"

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def run(self, cells: Sequence[Cell]) -> Iterator[tuple[Cell, CellResult]]:
        # Spawn, not fork: torch's thread pools do not survive a fork.
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(self.workers, mp_context=context)
        try:
            pending: dict[Future[CellResult], Cell] = {
                pool.submit(run_cell, cell): cell for cell in cells
            }
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield pending.pop(future), future.result()
        finally:
            # On an error or an interruption (here or in the caller's logging) stop at once:
            # queued cells would otherwise all run before the error surfaces, and the cells in
            # flight would keep their workers busy, orphaned at full CPU, after this process ends
            # (their results would be thrown away: the resumed run plays them again). After a
            # normal finish the workers are idle, and terminating them only ends them sooner.
            processes = list((pool._processes or {}).values())  # no public handle in 3.11
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                if process.is_alive():
                    process.terminate()


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
