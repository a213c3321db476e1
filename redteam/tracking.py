"""MLflow tracking: one parent run per suite, one nested run per cell, found again by hash.

Default store: ``sqlite:///mlflow.db`` in the current folder, artifacts in ``mlartifacts/``
beside it (MLflow would otherwise put them in ``./mlruns`` of whatever folder it runs in);
``--tracking-uri`` or ``MLFLOW_TRACKING_URI`` for any other store or server. A cell's run is
created and filled only once the cell has finished, then marked FINISHED, so a killed sweep
leaves every finished cell intact and nothing half-logged that could be mistaken for a result:
on rerun, FINISHED runs with the same cell hash are reused and the cell is skipped.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
from mlflow.entities import Metric, Param
from mlflow.exceptions import MlflowException

from redteam.cell import Cell
from redteam.metrics import CellResult
from redteam.suite import Suite

# MLflow and alembic announce every new database at INFO on stderr, which would bury the
# one-line errors and the scorecard; warnings still come through.
for _name in ("mlflow", "alembic"):
    logging.getLogger(_name).setLevel(logging.WARNING)

# MLflow draws a progress bar for every artifact download; a resumed suite downloads hundreds.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

CELL_JSON = "cell.json"
CELL_ARRAYS = "agents.npz"
MAX_PARAMS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000


def tracking_uri(explicit: str | None) -> str:
    if explicit:
        return explicit
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def flatten(prefix: str, value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from flatten(f"{prefix}.{k}" if prefix else k, v)
    else:
        yield prefix, str(value)


def cell_params(cell: Cell) -> dict[str, str]:
    return dict(flatten("", {k: v for k, v in vars(cell).items() if k != "suite"}))


def suite_json(suite: Suite) -> str:
    """A suite's sections (what its TOML file would say) as JSON."""
    sections = {
        "suite": asdict(suite.settings),
        "economies": [asdict(e) for e in suite.economies],
        "attacks": [asdict(a) for a in suite.attacks],
        "defenses": [asdict(d) for d in suite.defenses],
        "metrics": asdict(suite.metrics),
    }
    return json.dumps(sections, indent=2, default=str)


class Tracker:
    """The MLflow side of a suite run."""

    def __init__(self, uri: str, suite: Suite) -> None:
        self.uri = uri
        self.suite = suite
        self.client = mlflow.MlflowClient(tracking_uri=uri)
        self.experiment_id = self._experiment(f"redteam-{suite.settings.name}")
        self.parent_id = ""

    def _experiment(self, name: str) -> str:
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        location = None
        if self.uri.startswith("sqlite:///"):
            db = Path(self.uri.removeprefix("sqlite:///"))
            location = (db.parent / "mlartifacts" / name).resolve().as_uri()
        return self.client.create_experiment(name, artifact_location=location)

    def _search(self, filter_string: str) -> list[Any]:
        runs, token = [], None
        while True:
            page = self.client.search_runs(
                [self.experiment_id], filter_string, max_results=1000, page_token=token
            )
            runs.extend(page)
            token = page.token
            if not token:
                return runs

    def start(self) -> str:
        """Open (or reopen, for the same suite) the parent run; returns its id."""
        runs = self._search(
            f"tags.`redteam.suite_hash` = '{self.suite.hash}' and tags.`redteam.kind` = 'suite'"
        )
        if runs:
            self.parent_id = runs[0].info.run_id
            self.client.update_run(self.parent_id, status="RUNNING")
        else:
            tags = {
                "redteam.kind": "suite",
                "redteam.suite_hash": self.suite.hash,
                "redteam.suite_file": str(self.suite.path),
                "mlflow.source.git.commit": git_commit(),
                "redteam.version": metadata.version("forest-redteam"),
            }
            run = self.client.create_run(
                self.experiment_id, run_name=self.suite.settings.name, tags=tags
            )
            self.parent_id = run.info.run_id
            if self.suite.path.is_file():
                text, name = self.suite.path.read_text(encoding="utf-8"), "suite.toml"
            else:  # built in Python (``redteam.build_suite``): its sections, as data
                text, name = suite_json(self.suite), "suite.json"
            self.client.log_text(self.parent_id, text, name)
        return self.parent_id

    def finished_cells(self) -> dict[str, str]:
        """Cell hash -> run id of every FINISHED cell run in this suite's experiment."""
        runs = self._search("tags.`redteam.kind` = 'cell' and attributes.status = 'FINISHED'")
        return {r.data.tags["redteam.cell_hash"]: r.info.run_id for r in reversed(runs)}

    def abandon_unfinished(self, hashes: set[str]) -> None:
        """Mark runs a killed sweep left RUNNING for these cells as KILLED (they rerun)."""
        for run in self._search("tags.`redteam.kind` = 'cell' and attributes.status = 'RUNNING'"):
            if run.data.tags.get("redteam.cell_hash") in hashes:
                self.client.set_terminated(run.info.run_id, status="KILLED")

    def load_cell(self, run_id: str) -> CellResult:
        return load_cell(self.client, run_id)

    def log_cell(self, cell: Cell, result: CellResult) -> str:
        tags = {
            "mlflow.parentRunId": self.parent_id,
            "redteam.kind": "cell",
            "redteam.cell_hash": cell.hash,
            "redteam.group": cell.group,
            "redteam.suite_hash": self.suite.hash,
            "mlflow.source.git.commit": git_commit(),
            "redteam.version": metadata.version("forest-redteam"),
        }
        run = self.client.create_run(
            self.experiment_id, run_name=f"{cell.group} | seed {cell.seed}", tags=tags
        )
        run_id = run.info.run_id
        params = [Param(k, v[:6000]) for k, v in cell_params(cell).items()]
        for i in range(0, len(params), MAX_PARAMS_PER_BATCH):
            self.client.log_batch(run_id, params=params[i : i + MAX_PARAMS_PER_BATCH])
        now = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, 0) for k, v in result.scalars.items()]
        metrics += [
            Metric(f"round/{name}", float(value), now, step)
            for name, curve in result.curves.items()
            for step, value in enumerate(curve)
        ]
        for i in range(0, len(metrics), MAX_METRICS_PER_BATCH):
            self.client.log_batch(run_id, metrics=metrics[i : i + MAX_METRICS_PER_BATCH])
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / CELL_JSON).write_text(result.to_json(), encoding="utf-8")
            np.savez_compressed(Path(tmp) / CELL_ARRAYS, **result.arrays)
            self.client.log_artifacts(run_id, tmp)
        self.client.set_terminated(run_id, status="FINISHED")
        result.run_id = run_id
        return run_id

    def finish(self, artifacts: Path, metrics: dict[str, float], status: str = "FINISHED") -> None:
        """Attach the suite's results table and report to the parent run and close it."""
        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, 0) for k, v in metrics.items()]
        for i in range(0, len(batch), MAX_METRICS_PER_BATCH):
            self.client.log_batch(self.parent_id, metrics=batch[i : i + MAX_METRICS_PER_BATCH])
        self.client.log_artifacts(self.parent_id, str(artifacts))
        self.client.set_terminated(self.parent_id, status=status)


def load_cell(client: mlflow.MlflowClient, run_id: str) -> CellResult:
    """A finished cell's results, from its ``cell.json`` artifact."""
    with tempfile.TemporaryDirectory() as tmp:
        path = client.download_artifacts(run_id, CELL_JSON, tmp)
        result = CellResult.from_json(Path(path).read_text(encoding="utf-8"))
    result.run_id = run_id
    return result


def open_run(uri: str, run_id: str) -> tuple[Any, Any]:
    """(client, run) for ``redteam report``; a clear error for an unknown run id."""
    client = mlflow.MlflowClient(tracking_uri=uri)
    try:
        return client, client.get_run(run_id)
    except MlflowException:
        return client, None
