"""Cells as Ray tasks: one suite across the cores of a Ray cluster (optional extra ``[ray]``).

``address`` (or ``RAY_ADDRESS``) names an existing cluster: ``auto`` for the one running on this
machine, ``ray://HOST:PORT`` for a remote one through Ray Client. Without either, a private
local Ray starts with ``workers`` CPUs, bound to 127.0.0.1, and stops when the suite ends. Each
cell is one task of one CPU; results come back to the driver as each finishes and are logged to
MLflow there, exactly as the local executor's are, so the results table does not depend on the
executor. A remote cluster needs this package and the suite's checkpoint at the same paths.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

from forest.errors import ConfigError
from redteam.cell import Cell
from redteam.executors import Executor
from redteam.metrics import CellResult
from redteam.runner import run_cell


def _import_ray(private: bool):
    """Ray, imported so that a private local cluster binds to 127.0.0.1: Ray reads at import
    whether it runs on a laptop (loopback) or a cluster node (the machine's address)."""
    if private:
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "--executor ray: Ray is not installed; install it with "
            "pip install 'forest-redteam[ray]'"
        ) from None
    return ray


class RayExecutor(Executor):
    name = "ray"

    def __init__(self, workers: int, address: str | None = None) -> None:
        self.workers = workers
        self.address = address or os.environ.get("RAY_ADDRESS") or None

    def _connect(self, ray) -> bool:
        """Connect (or start); True when this executor started Ray and must stop it."""
        if ray.is_initialized():
            return False
        if self.address is not None:
            try:
                ray.init(address=self.address, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ConfigError(
                    f"--address: cannot connect to Ray at {self.address!r} ({exc})"
                ) from None
            return True
        # "local": a fresh instance of our own, never a cluster that happens to run here.
        context = ray.init(address="local", num_cpus=self.workers, include_dashboard=False,
                           log_to_driver=False)  # fmt: skip
        if context.address_info["node_ip_address"] != "127.0.0.1":
            ray.shutdown()
            raise ConfigError(
                "--executor ray: the private Ray would listen on "
                f"{context.address_info['node_ip_address']}, not 127.0.0.1 (Ray was imported "
                "before this executor); start Ray yourself and pass --address"
            )
        return True

    def run(self, cells: Sequence[Cell]) -> Iterator[tuple[Cell, CellResult]]:
        ray = _import_ray(private=self.address is None)
        started = self._connect(ray)
        pending = {}
        try:
            remote_cell = ray.remote(num_cpus=1, max_retries=0)(run_cell)
            pending = {remote_cell.remote(cell): cell for cell in cells}
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    yield pending.pop(ref), ray.get(ref)
        finally:
            # On an error stop at once, as the local pool does: nothing else would use them.
            for ref in pending:
                ray.cancel(ref, force=True)
            if started:
                ray.shutdown()
