"""``redteam curve``: a suite swept over the compromised share, end to end with MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest

from redteam.cli import main

CHECKPOINT = Path(__file__).parents[2] / "checkpoints" / "small"
SUITE = f"""
[suite]
name = "tiny-curve"
checkpoint = "{CHECKPOINT}"
rounds = 6
seeds = 2

[[economies]]
name = "supply_chain"
agents = 30

[[attacks]]
name = "latent-noise"
params = {{ start_round = 2, norm = 64.0 }}

[metrics]
blast_radius_rounds = [2, 4]
"""


def test_curve_writes_points_breakdown_and_figure_and_logs_them(tmp_path, capsys):
    suite = tmp_path / "tiny.toml"
    suite.write_text(SUITE)
    uri, out = f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "out"
    argv = ["curve", str(suite), "--shares", "0.05,0.5", "--bisect", "1",
            "--tracking-uri", uri, "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    found = json.loads((out / "curves.json").read_text())
    (curve,) = found["curves"]
    shares = [p["share"] for p in curve["points"]]
    assert shares[0] == 0.05 and shares[-1] == 0.5
    assert all(p["harm"]["n"] == 2 for p in curve["points"])
    assert (out / "security_curves.png").stat().st_size > 0
    assert "breakdown point" in capsys.readouterr().out
    client = mlflow.MlflowClient(uri)
    (experiment,) = [e for e in client.search_experiments() if e.name == "redteam-tiny-curve"]
    runs = client.search_runs([experiment.experiment_id], "tags.`redteam.kind` = 'curve'")
    assert {a.path for a in client.list_artifacts(runs[0].info.run_id)} >= {
        "curves.json", "security_curves.png"}  # fmt: skip
    # A second run finds every cell in MLflow and plays none again.
    assert main(argv) == 0
    assert "already in MLflow" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flag", "value"), [("--shares", "0,0.5"), ("--shares", "a"), ("--threshold", "-1")]
)
def test_bad_curve_options_are_one_line_errors(tmp_path, capsys, flag, value):
    suite = tmp_path / "tiny.toml"
    suite.write_text(SUITE)
    assert main(["curve", str(suite), flag, value]) == 2
    assert capsys.readouterr().err.startswith("redteam: error:")
