"""Plugins by entry points: a third-party package installed beside forest-redteam adds an
attack that `redteam list attacks` shows and a suite can run; a broken one is skipped with a
warning naming it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from forest.plugins import PluginWarning, load_plugins

ROOT = Path(__file__).parents[1]
SUITE = f"""
[suite]
name = "plugin"
checkpoint = "{ROOT / "checkpoints" / "small"}"
rounds = 6
seeds = 1

[[economies]]
name = "supply_chain"
agents = 30

[[attacks]]
name = "halve-orders"
params = {{ start_round = 2 }}
threat = {{ count = 3 }}

[metrics]
blast_radius_rounds = [2]
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The example plugin pip-installed into a folder of its own; the environment that sees it."""
    target = tmp_path_factory.mktemp("site")
    # Built from a copy: a build leaves folders beside the sources it builds.
    source = tmp_path_factory.mktemp("source") / "plugin_package"
    shutil.copytree(ROOT / "tests" / "plugin_package", source)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(ROOT)])}


def _redteam(env: dict[str, str], *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "redteam.cli", *args], env=env, cwd=cwd, capture_output=True,
        text=True, timeout=600,
    )  # fmt: skip


def test_an_installed_plugin_attack_is_listed_with_its_tags(installed):
    done = _redteam(installed, "list", "attacks", "--json")
    assert done.returncode == 0, done.stderr[-1500:]
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    assert rows["halve-orders"]["surface"] == "actions"
    assert "ASI10" in rows["halve-orders"]["threat_tags"]


def test_a_suite_runs_the_plugin_attack(installed, tmp_path):
    suite = tmp_path / "plugin.toml"
    suite.write_text(SUITE)
    out = tmp_path / "out.json"
    done = _redteam(installed, "run", str(suite), "--tracking-uri",
                    f"sqlite:///{tmp_path / 'mlflow.db'}", "--out", str(tmp_path / "report"),
                    "--json-out", str(out), cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-1500:]
    (cell,) = json.loads(out.read_text())["cells"]
    assert cell["group"] == "supply_chain | halve-orders | no defense"
    assert cell["metrics"]["attack_success_rate"] >= 0.0


def test_without_the_plugin_the_name_is_unknown():
    from attacks import attack_names

    assert "halve-orders" not in attack_names()


def test_a_broken_plugin_is_skipped_with_a_warning_naming_it(monkeypatch):
    class Broken:
        name, value = "broken", "nowhere.module"

        def load(self):
            raise ImportError("No module named 'nowhere'")

    monkeypatch.setattr("importlib.metadata.entry_points", lambda group: [Broken()])
    with pytest.warns(PluginWarning, match="plugin 'broken' \\(nowhere.module\\)"):
        assert load_plugins("forest_redteam.attacks") == []
    with pytest.raises(ValueError, match="group"):
        load_plugins("forest_redteam.nothing")
