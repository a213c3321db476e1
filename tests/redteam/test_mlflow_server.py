"""A suite against a real MLflow tracking server over HTTP: the server is started here (sqlite
backend, artifacts served by the server, bound to 127.0.0.1 on a free port), the suite runs
against it, and runs, metric histories and artifacts are read back through the server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from mlflow import MlflowClient

from redteam.cli import main

REPO_ROOT = Path(__file__).parents[2]
ROUNDS = 6
SUITE = f"""
[suite]
name = "over-http"
checkpoint = "{REPO_ROOT / "checkpoints" / "small"}"
rounds = {ROUNDS}
seeds = 2

[[economies]]
name = "supply_chain"
agents = 30

[[attacks]]
name = "latent-noise"
params = {{ start_round = 2, norm = 64.0 }}
threat = {{ count = 3 }}

[metrics]
blast_radius_rounds = [2, 4]
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    log = (tmp / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server",
         "--backend-store-uri", f"sqlite:///{tmp / 'backend.db'}",
         "--artifacts-destination", str(tmp / "artifacts"),
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
                if reply.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(
                f"mlflow server did not come up: {(tmp / 'server.log').read_text()[-2000:]}"
            )
        time.sleep(0.5)
    yield url, tmp
    process.terminate()
    process.wait(timeout=30)
    log.close()


def test_a_suite_logs_to_a_tracking_server_and_reads_back_over_http(server, tmp_path):
    url, server_dir = server
    suite = tmp_path / "over_http.toml"
    suite.write_text(SUITE)
    out = tmp_path / "out.json"
    args = ["run", str(suite), "--tracking-uri", url, "--out", str(tmp_path / "report"),
            "--json-out", str(out)]  # fmt: skip
    assert main(args) == 0
    result = json.loads(out.read_text())
    client = MlflowClient(tracking_uri=url)
    parent = client.get_run(result["parent_run_id"])
    assert parent.info.status == "FINISHED"
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"
    )
    assert len(children) == 2 and all(c.info.status == "FINISHED" for c in children)
    cell = children[0]
    history = client.get_metric_history(cell.info.run_id, "round/infected_share")
    assert sorted(m.step for m in history) == list(range(ROUNDS))
    downloaded = Path(client.download_artifacts(cell.info.run_id, "cell.json", str(tmp_path)))
    assert json.loads(downloaded.read_text())["cell_hash"] == cell.data.tags["redteam.cell_hash"]
    # The artifacts went through the server into its own store, not into this folder.
    assert any((server_dir / "artifacts").rglob("cell.json"))
    assert not (tmp_path / "mlruns").exists()
    # A second run against the server reuses every cell it holds.
    assert main([*args[:-2], "--json-out", str(tmp_path / "again.json")]) == 0
    again = json.loads((tmp_path / "again.json").read_text())
    assert {c["run_id"] for c in again["cells"]} == {c.info.run_id for c in children}
