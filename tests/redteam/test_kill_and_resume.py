"""SIGKILL a running sweep midway, run it again: finished cells are kept and not recomputed, no
cell has two finished runs, the run that was cut off is not left looking finished, and the
final results equal those of a sweep that was never interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mlflow import MlflowClient

from redteam.cli import main
from redteam.scorecard import deterministic_scalars

REPO_ROOT = Path(__file__).parents[2]
SUITE = f"""
[suite]
name = "killed"
checkpoint = "{REPO_ROOT / "checkpoints" / "small"}"
rounds = 8
seeds = 3

[[economies]]
name = "supply_chain"
agents = 60

[[attacks]]
name = "latent-noise"
params = {{ start_round = 2 }}
threat = {{ count = 3 }}
sweep = {{ norm = [16.0, 256.0] }}

[metrics]
blast_radius_rounds = [2, 4]
"""
N_CELLS = 2 * 3


def _finished_cells(client: MlflowClient) -> list:
    experiment = client.get_experiment_by_name("redteam-killed")
    if experiment is None:
        return []
    return client.search_runs(
        [experiment.experiment_id],
        "tags.`redteam.kind` = 'cell' and attributes.status = 'FINISHED'",
    )


def _run_to_json(suite: Path, uri: str, out: Path) -> dict:
    assert main(["run", str(suite), "--tracking-uri", uri, "--out", str(out.parent / "report"),
                 "--json-out", str(out)]) == 0  # fmt: skip
    return json.loads(out.read_text())


def test_a_sigkilled_sweep_resumes_without_recomputing_or_duplicating_cells(tmp_path):
    suite = tmp_path / "killed.toml"
    suite.write_text(SUITE)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "OMP_NUM_THREADS": "1"}
    # The store is created (and migrated) before the sweep starts: two processes creating one
    # sqlite store at once race on its schema, and on a loaded machine one of them loses.
    client = MlflowClient(tracking_uri=uri)
    client.search_experiments()
    stderr = tmp_path / "sweep.stderr"
    with stderr.open("w") as errors:
        sweep = subprocess.Popen(
            [sys.executable, "-m", "redteam.cli", "run", str(suite), "--tracking-uri", uri,
             "--out", str(tmp_path / "report")],
            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=errors,
            start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + 300
    while len(_finished_cells(client)) < 2:
        ended = sweep.poll() is not None
        assert not ended, f"the sweep ended before it could be killed: {stderr.read_text()[-800:]}"
        assert time.monotonic() < deadline, "no cell finished in time"
        time.sleep(0.2)
    os.killpg(sweep.pid, signal.SIGKILL)
    sweep.wait()
    survivors = {r.data.tags["redteam.cell_hash"]: r.info.run_id for r in _finished_cells(client)}
    assert 2 <= len(survivors) < N_CELLS, "kill the sweep midway, not after it finished"

    resumed = _run_to_json(suite, uri, tmp_path / "resumed.json")
    finished = _finished_cells(client)
    hashes = [r.data.tags["redteam.cell_hash"] for r in finished]
    assert len(hashes) == len(set(hashes)) == N_CELLS  # one finished run per cell, no duplicate
    by_hash = {c["cell_hash"]: c for c in resumed["cells"]}
    for cell_hash, run_id in survivors.items():
        assert by_hash[cell_hash]["run_id"] == run_id  # reused, not recomputed
    experiment = client.get_experiment_by_name("redteam-killed").experiment_id
    cut_off = client.search_runs([experiment], "attributes.status = 'RUNNING'")
    assert not cut_off, "a run left RUNNING after the resume"

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    clean = _run_to_json(suite, f"sqlite:///{fresh / 'mlflow.db'}", fresh / "clean.json")
    assert len(clean["cells"]) == N_CELLS
    for cell in clean["cells"]:
        assert deterministic_scalars(by_hash[cell["cell_hash"]]["metrics"]) == (
            deterministic_scalars(cell["metrics"])
        )


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _group_size(pgid: int) -> int:
    """Live processes in process group ``pgid`` (from /proc: field 5 of stat is the group)."""
    size = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        size += fields[0] != "Z" and int(fields[2]) == pgid
    return size


def test_a_sigterm_stops_the_workers_and_marks_the_run_killed(tmp_path):
    """SIGTERM to the sweep alone (as a scheduler sends it) must not leave its pool's workers
    running on: they are in its process group, which must empty."""
    suite = tmp_path / "killed.toml"
    suite.write_text(SUITE)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "OMP_NUM_THREADS": "1"}
    client = MlflowClient(tracking_uri=uri)
    client.search_experiments()
    sweep = subprocess.Popen(
        [sys.executable, "-m", "redteam.cli", "run", str(suite), "--tracking-uri", uri,
         "--out", str(tmp_path / "report"), "--workers", "2"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while _group_size(sweep.pid) < 4:  # the sweep, its resource tracker and two workers
        assert sweep.poll() is None, "the sweep ended before it could be stopped"
        assert time.monotonic() < deadline, "the workers never started"
        time.sleep(0.2)
    time.sleep(3.0)  # the workers are busy with cells
    sweep.send_signal(signal.SIGTERM)
    assert sweep.wait(timeout=120) != 0
    deadline = time.monotonic() + 30
    while _group_alive(sweep.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    alive = _group_alive(sweep.pid)
    if alive:
        os.killpg(sweep.pid, signal.SIGKILL)
    assert not alive, "worker processes outlived the stopped sweep"
    experiment = client.get_experiment_by_name("redteam-killed").experiment_id
    (parent,) = client.search_runs([experiment], "tags.`redteam.kind` = 'suite'")
    assert parent.info.status == "KILLED"
