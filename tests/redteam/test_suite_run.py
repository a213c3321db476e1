"""End to end: `redteam run` on a small suite against the shipped forest, read back from MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient

from redteam.cli import main
from redteam.commands import run as run_command
from redteam.scorecard import TIMING_METRICS, deterministic_scalars
from redteam.tracking import load_cell

REPO_ROOT = Path(__file__).parents[2]
ROUNDS = 8
SUITE = f"""
[suite]
name = "e2e"
checkpoint = "{REPO_ROOT / "checkpoints" / "small"}"
rounds = {ROUNDS}
seeds = 2

[[economies]]
name = "supply_chain"
agents = 30

[[attacks]]
name = "latent-noise"
params = {{ start_round = 2 }}
threat = {{ count = 3 }}
sweep = {{ norm = [0.0, 64.0] }}

[[attacks]]
name = "compromised-order-spike"
threat = {{ count = 3 }}

[[defenses]]
name = "mahalanobis"
params = {{ target_fpr = 0.05 }}

[metrics]
blast_radius_rounds = [2, 4]
"""
N_CELLS = 3 * 2  # attack variants x seeds


def _run(tmp: Path, *extra: str) -> dict:
    suite = tmp / "e2e.toml"
    suite.write_text(SUITE)
    out = tmp / "out.json"
    code = main(
        ["run", str(suite), "--tracking-uri", f"sqlite:///{tmp / 'mlflow.db'}",
         "--out", str(tmp / "report"), "--json-out", str(out), *extra]
    )  # fmt: skip
    assert code == 0
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    tmp = tmp_path_factory.mktemp("e2e")
    return tmp, _run(tmp)


def _client(tmp: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}")


def test_mlflow_holds_a_parent_run_with_one_nested_finished_run_per_cell(first_run):
    tmp, out = first_run
    client = _client(tmp)
    parent = client.get_run(out["parent_run_id"])
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["redteam.kind"] == "suite"
    assert parent.data.metrics["cells_run"] == N_CELLS
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"
    )
    assert len(children) == N_CELLS
    assert {c.info.status for c in children} == {"FINISHED"}
    run = children[0]
    assert len(run.data.tags["redteam.cell_hash"]) == 16
    assert run.data.tags["redteam.version"] == "0.1.0"
    assert "mlflow.source.git.commit" in run.data.tags
    assert run.data.params["economy_config.n_agents"] == "30"
    assert run.data.params["threat.count"] == "3"


def test_per_round_metrics_have_one_point_per_round_with_step_equal_to_the_round(first_run):
    tmp, out = first_run
    client = _client(tmp)
    run_id = out["cells"][0]["run_id"]
    history = client.get_metric_history(run_id, "round/infected_share")
    assert [m.step for m in sorted(history, key=lambda m: m.step)] == list(range(ROUNDS))
    cell = load_cell(client, run_id)
    assert [m.value for m in sorted(history, key=lambda m: m.step)] == pytest.approx(
        cell.curves["infected_share"]
    )


def test_artifacts_hold_results_plots_report_and_per_agent_arrays(first_run, tmp_path):
    tmp, out = first_run
    client = _client(tmp)
    parent_files = {f.path for f in client.list_artifacts(out["parent_run_id"])}
    assert {"report.md", "report.html", "cells.csv", "groups.csv", "suite.toml"} <= parent_files
    assert {"infection_curves.png", "roc_curves.png", "harm_vs_strength.png"} <= parent_files
    run_id = out["cells"][0]["run_id"]
    arrays = np.load(client.download_artifacts(run_id, "agents.npz", str(tmp_path)))
    assert arrays["actions"].shape == (ROUNDS, 30)
    assert arrays["detector_scores"].shape == (ROUNDS, 30)
    assert arrays["compromised"].size == 3


def test_report_files_are_written_with_every_group(first_run):
    tmp, out = first_run
    report = (tmp / "report" / "report.md").read_text()
    for group in out["groups"]:
        assert f"| {group['group']} |" in report
    html = (tmp / "report" / "report.html").read_text()
    assert '<img src="infection_curves.png"' in html
    # The zero-noise variant cannot succeed, and the report says so rather than print a bare 0%.
    warnings = report.split("## Warnings")[1]
    assert "- supply_chain | latent-noise norm=0.0 | mahalanobis: 0% attack success" in warnings
    assert "may be broken or too weak" in warnings
    png = (tmp / "report" / "roc_curves.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000  # a drawn figure, not a stub


def test_a_second_run_skips_every_finished_cell_and_reports_the_same_metrics(first_run):
    tmp, out = first_run
    again = _run(tmp)
    client = _client(tmp)
    assert client.get_run(again["parent_run_id"]).data.metrics["cells_run"] == 0
    assert again["parent_run_id"] == out["parent_run_id"]
    assert [c["metrics"] for c in again["cells"]] == [c["metrics"] for c in out["cells"]]


def test_the_same_suite_rerun_from_scratch_gives_identical_metrics(first_run, tmp_path):
    _, out = first_run
    fresh = _run(tmp_path)
    for a, b in zip(out["cells"], fresh["cells"], strict=True):
        assert a["cell_hash"] == b["cell_hash"]
        assert deterministic_scalars(a["metrics"]) == deterministic_scalars(b["metrics"])


def test_report_rebuilds_the_scorecard_from_mlflow_alone(first_run, tmp_path, capsys):
    tmp, out = first_run
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    code = main(["report", out["parent_run_id"], "--tracking-uri", uri, "--out", str(tmp_path)])
    assert code == 0
    assert (tmp_path / "report.md").read_text().split("| economy")[1] == (
        tmp / "report" / "report.md"
    ).read_text().split("| economy")[1]
    assert "Scorecard: e2e" in capsys.readouterr().out


def test_a_sweep_killed_midway_keeps_finished_cells_and_the_rerun_runs_only_the_rest(
    tmp_path, monkeypatch
):
    real = run_command.make_executor

    class DiesAfterTwo:
        def run(self, cells):
            for i, item in enumerate(real(1).run(cells)):
                if i == 2:
                    raise RuntimeError("worker lost")
                yield item

    monkeypatch.setattr(run_command, "make_executor", lambda *args: DiesAfterTwo())
    with pytest.raises(RuntimeError, match="worker lost"):
        _run(tmp_path)
    client = _client(tmp_path)
    (parent,) = client.search_runs(
        [client.get_experiment_by_name("redteam-e2e").experiment_id],
        "tags.`redteam.kind` = 'suite'",
    )
    assert parent.info.status == "FAILED"
    monkeypatch.setattr(run_command, "make_executor", real)
    resumed = _run(tmp_path)
    assert client.get_run(resumed["parent_run_id"]).data.metrics["cells_run"] == N_CELLS - 2
    assert len(resumed["cells"]) == N_CELLS


def test_two_worker_processes_give_the_in_process_metrics(first_run, tmp_path):
    _, out = first_run
    pooled = _run(tmp_path, "--workers", "2")
    by_hash = {c["cell_hash"]: c for c in pooled["cells"]}
    for cell in out["cells"]:
        other = by_hash[cell["cell_hash"]]
        assert deterministic_scalars(cell["metrics"]) == deterministic_scalars(other["metrics"])


def test_latent_noise_damage_does_not_decrease_with_its_norm(tmp_path):
    """Sanity check of the whole pipe: more noise in the latent, no less damage (seed mean)."""
    suite = tmp_path / "norms.toml"
    suite.write_text(
        f"""
[suite]
name = "norms"
checkpoint = "{REPO_ROOT / "checkpoints" / "small"}"
rounds = 20
seeds = 3

[[economies]]
name = "supply_chain"
agents = 120

[[attacks]]
name = "latent-noise"
threat = {{ fraction = 0.1 }}
sweep = {{ norm = [0.0, 8.0, 32.0, 128.0, 512.0] }}
"""
    )
    out = tmp_path / "out.json"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["run", str(suite), "--tracking-uri", uri, "--out", str(tmp_path / "r"),
                 "--json-out", str(out)]) == 0  # fmt: skip
    drops = [g["metrics"]["utility_drop"]["mean"] for g in json.loads(out.read_text())["groups"]]
    assert drops[0] == 0.0  # zero noise: the attacked episode is its twin
    assert drops == sorted(drops), drops
    assert drops[-1] > 0.01  # and the strongest noise does real damage


def test_deterministic_scalars_compare_nan_as_equal():
    scalars = {"a": float("nan"), "latency_ms": 3.0, "b": 1.0}
    assert deterministic_scalars(scalars) == {"a": "nan", "b": 1.0}
    assert deterministic_scalars(scalars) == deterministic_scalars(dict(scalars, a=float("nan")))


def test_ray_executor_gives_the_local_results_table(first_run, tmp_path, ray_cluster):
    _, out = first_run
    assert ray_cluster.address_info["node_ip_address"] == "127.0.0.1"
    on_ray = _run(tmp_path, "--executor", "ray", "--workers", "2")
    by_hash = {c["cell_hash"]: c for c in on_ray["cells"]}
    assert set(by_hash) == {c["cell_hash"] for c in out["cells"]}
    for cell in out["cells"]:
        other = by_hash[cell["cell_hash"]]
        assert deterministic_scalars(cell["metrics"]) == deterministic_scalars(other["metrics"])
    assert [g["group"] for g in on_ray["groups"]] == [g["group"] for g in out["groups"]]
    for local, ray in zip(out["groups"], on_ray["groups"], strict=True):
        assert local["metrics"].keys() == ray["metrics"].keys()
        for name, estimate in local["metrics"].items():
            if name not in TIMING_METRICS:  # wall time differs between any two runs
                assert ray["metrics"][name] == pytest.approx(estimate, nan_ok=True), name


def test_executor_options_are_checked_before_anything_runs(tmp_path, capsys):
    suite = tmp_path / "e2e.toml"
    suite.write_text(SUITE)
    code = main(["run", str(suite), "--address", "auto", "--out", str(tmp_path / "r")])
    assert code == 2
    assert "--address: only the ray executor connects to a cluster" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_a_private_ray_started_by_the_executor_listens_on_loopback_only():
    import os
    import secrets
    import subprocess
    import sys
    import tempfile

    pytest.importorskip("ray")
    script = (
        "from redteam.ray_executor import RayExecutor, _import_ray\n"
        "ray = _import_ray(private=True)\n"
        "assert RayExecutor(1)._connect(ray)\n"
        "print(ray.get_runtime_context().gcs_address)\n"
        "ray.shutdown()\n"
    )
    # A short folder: Ray's socket paths must fit in 107 bytes.
    with tempfile.TemporaryDirectory(prefix="ray", dir="/tmp") as folder:
        env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16),
               "RAY_TMPDIR": folder}  # fmt: skip
        env.pop("RAY_ADDRESS", None)
        env.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                              text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1].startswith("127.0.0.1:")
