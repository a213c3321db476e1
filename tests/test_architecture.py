"""The architecture contract (pyproject.toml, [tool.importlinter]) holds, and would catch a break.

`lint-imports` runs on the repository; then on a scratch tree of tiny packages named like ours,
checked against the same contracts (read from pyproject.toml), where one deliberately wrong
import must break exactly the contract that forbids it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SETTINGS: dict[str, Any] = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"][
    "importlinter"
]
CONTRACTS = {contract["name"]: contract for contract in SETTINGS["contracts"]}
OUTSIDE_FOREST = "forest imports nothing from attacks, defenses or redteam"
ATTACKS_DEFENSES = "attacks and defenses never import each other"
INFERENCE = "forest's inference modules never import forest.training"
EXPERIMENTS = "experiments/ scripts use the packages, never the reverse"
# The forest modules that may train (the inference contract lists every other one).
MAY_TRAIN = (
    "forest.training",
    "forest.pretrained.training",
    "forest.pretrained.adaptation",
    "forest.pretrained.own_router",
    "forest.commands",
    "forest.cli",
)
LINT_IMPORTS = "from importlinter.cli import lint_imports_command; lint_imports_command()"


def lint_imports(root: Path, config: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` with ``root`` first on the path, so that its packages are the ones read."""
    env = {**os.environ, "PYTHONPATH": str(root), "COLUMNS": "1000"}
    return subprocess.run(
        [sys.executable, "-c", LINT_IMPORTS, "--config", str(config), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def said(result: subprocess.CompletedProcess[str]) -> str:
    return " ".join((result.stdout + result.stderr).split())


def test_the_repository_keeps_every_contract() -> None:
    assert set(CONTRACTS) == {OUTSIDE_FOREST, ATTACKS_DEFENSES, INFERENCE, EXPERIMENTS}
    result = lint_imports(REPO_ROOT, REPO_ROOT / "pyproject.toml")
    assert result.returncode == 0, said(result)
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken" in said(result)


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_every_forest_module_is_inference_or_may_train() -> None:
    """A new forest module must be added to the inference contract (or to MAY_TRAIN)."""
    inference = CONTRACTS[INFERENCE]["source_modules"]
    assert CONTRACTS[INFERENCE]["forbidden_modules"] == ["forest.training"]

    def within(name: str, packages: list[str] | tuple[str, ...]) -> bool:
        return any(name == p or name.startswith(p + ".") for p in packages)

    unplaced = [
        name
        for name in map(module_name, sorted((REPO_ROOT / "forest").rglob("*.py")))
        if not within(name, inference)
        and not within(name, MAY_TRAIN)
        # A package's __init__ that holds nothing but its children (forest, forest.pretrained).
        and not any(within(m, [name]) for m in [*inference, *MAY_TRAIN])
    ]
    assert unplaced == []


def toml_value(value: Any) -> str:
    # Strings, booleans and lists of strings: JSON writes each as valid TOML.
    return json.dumps(value)


def scratch_tree(root: Path, wrong: tuple[str, str] | None) -> Path:
    """Tiny packages holding every module the contracts name, plus experiments/ (scripts);
    ``wrong`` = (importer, imported) adds that one import. Returns the config file."""
    named = set(SETTINGS["root_packages"]) | set(MAY_TRAIN)
    for contract in SETTINGS["contracts"]:
        for key in ("source_modules", "forbidden_modules", "modules"):
            named |= set(contract.get(key, ()))
    named.discard("experiments")
    for name in sorted(named):
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):
            init = root.joinpath(*parts[:depth], "__init__.py")
            init.parent.mkdir(parents=True, exist_ok=True)
            init.touch()
    for name in MAY_TRAIN[1:]:  # as in the repository: these import training, and may
        root.joinpath(*name.split("."), "__init__.py").write_text("import forest.training\n")
    (root / "experiments").mkdir()
    (root / "experiments" / "script.py").write_text("import forest.policy\nimport redteam\n")
    if wrong is not None:
        importer, imported = wrong
        init = root.joinpath(*importer.split("."), "__init__.py")
        init.write_text(f"import {imported}\n")

    lines = ["[tool.importlinter]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in SETTINGS.items() if k != "contracts"]
    for contract in SETTINGS["contracts"]:
        lines += ["", "[[tool.importlinter.contracts]]"]
        lines += [f"{k} = {toml_value(v)}" for k, v in contract.items()]
    config = root / "pyproject.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


def test_a_scratch_tree_without_wrong_imports_keeps_every_contract(tmp_path: Path) -> None:
    result = lint_imports(tmp_path, scratch_tree(tmp_path, wrong=None))
    assert result.returncode == 0, said(result)


@pytest.mark.parametrize(
    ("importer", "imported", "broken"),
    [
        ("forest.policy", "redteam", OUTSIDE_FOREST),
        ("forest.model", "attacks", OUTSIDE_FOREST),
        ("attacks", "defenses", ATTACKS_DEFENSES),
        ("defenses", "attacks", ATTACKS_DEFENSES),
        ("forest.checkpoints", "forest.training", INFERENCE),
        ("forest.pretrained.modeling", "forest.pretrained.training", INFERENCE),
        ("redteam", "experiments.script", EXPERIMENTS),
    ],
)
def test_one_wrong_import_breaks_the_contract_that_forbids_it(
    tmp_path: Path, importer: str, imported: str, broken: str
) -> None:
    result = lint_imports(tmp_path, scratch_tree(tmp_path, wrong=(importer, imported)))
    assert result.returncode != 0
    assert f"{broken} BROKEN" in said(result)
    assert f"Contracts: {len(CONTRACTS) - 1} kept, 1 broken" in said(result)
