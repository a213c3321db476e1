"""The harness as a library: the public names, a suite built in Python validated and expanded
exactly as its TOML twin, and the example script that red-teams a forest in 15 lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import redteam
from redteam.suite import load_suite

ROOT = Path(__file__).parents[2]
CHECKPOINT = str(ROOT / "checkpoints" / "small")


def test_the_public_api_is_pinned():
    assert redteam.__all__ == [
        "AttackEntry", "CellResult", "CellRunner", "DefenseEntry", "EconomyEntry",
        "EpisodeTrace", "Measurement", "MetricSettings", "PairedDifference", "Results", "Suite",
        "SuiteError", "SuiteSettings", "build_suite", "load_suite", "measure", "run",
    ]  # fmt: skip
    for name in redteam.__all__:
        assert getattr(redteam, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = redteam.nothing


def python_suite(**attack):
    return redteam.build_suite(
        redteam.SuiteSettings(name="py", checkpoint=CHECKPOINT, rounds=12, seeds=2),
        economies=[redteam.EconomyEntry("supply_chain", agents=60)],
        attacks=[redteam.AttackEntry("latent-noise", **attack)],
        defenses=[redteam.DefenseEntry("none"), redteam.DefenseEntry("mahalanobis")],
    )


def test_a_suite_built_in_python_expands_into_the_cells_of_its_toml_twin(tmp_path):
    toml = tmp_path / "py.toml"
    toml.write_text(f"""
[suite]
name = "py"
checkpoint = "{CHECKPOINT}"
rounds = 12
seeds = 2

[[economies]]
name = "supply_chain"
agents = 60

[[attacks]]
name = "latent-noise"
params = {{ start_round = 2 }}
threat = {{ count = 3 }}

[[defenses]]
name = "none"

[[defenses]]
name = "mahalanobis"
""")
    built = python_suite(params={"start_round": 2}, threat={"count": 3})
    assert [c.hash for c in built.cells] == [c.hash for c in load_suite(toml).cells]
    assert len(built.cells) == 4


def test_a_python_suite_gets_the_suite_files_checks():
    with pytest.raises(redteam.SuiteError, match=r"attacks\[0\]\.threat\.fraction"):
        python_suite(threat={"fraction": 2.0})
    with pytest.raises(redteam.SuiteError, match=r"attacks\[0\]\.params: unknown key 'nonsense'"):
        python_suite(params={"nonsense": 1})


@pytest.mark.slow
def test_the_example_red_teams_the_shipped_forest_and_prints_harm_with_its_interval():
    done = subprocess.run(
        [sys.executable, "examples/red_team.py"], cwd=ROOT, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert "harm_low" in lines[0]
    assert any("latent-noise placebo" in line for line in lines[1:])
    assert len(lines) == 3
