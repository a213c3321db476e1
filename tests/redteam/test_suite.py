from dataclasses import replace
from pathlib import Path

import pytest

from redteam.collusion.suite import load_suite as load_collusion_suite
from redteam.suite import load_suite

REPO_ROOT = Path(__file__).parents[2]
SUITES = REPO_ROOT / "experiments" / "suites"


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch):
    monkeypatch.chdir(REPO_ROOT)


def test_shipped_suites_expand_into_the_documented_grids():
    quick = load_suite(SUITES / "quickstart.toml")
    economies = {c.economy for c in quick.cells}
    assert economies == {"supply_chain", "pricing", "exchange"}
    assert len(quick.cells) == 3 * (3 + 1) * 1 * 5  # economies x variants x defenses x seeds
    assert max(c.n_agents for c in quick.cells) <= 500
    thousand = load_suite(SUITES / "thousand_agents.toml")
    assert {c.n_agents for c in thousand.cells} == {1000}
    assert {c.threat["fraction"] for c in thousand.cells} == {0.01}


def test_cell_hashes_are_distinct_and_stable_across_loads():
    a, b = load_suite(SUITES / "quickstart.toml"), load_suite(SUITES / "quickstart.toml")
    hashes = [c.hash for c in a.cells]
    assert len(set(hashes)) == len(hashes)
    assert hashes == [c.hash for c in b.cells]
    assert a.hash == b.hash


def test_hash_follows_what_changes_results_and_ignores_display_names():
    cell = load_suite(SUITES / "quickstart.toml").cells[0]
    assert replace(cell, attack_label="renamed", suite="other").hash == cell.hash
    assert replace(cell, seed=cell.seed + 1).hash != cell.hash
    assert replace(cell, attack_params={**cell.attack_params, "norm": 5.0}).hash != cell.hash
    assert replace(cell, checkpoint_digest="0" * 16).hash != cell.hash


def test_resolved_params_fill_in_defaults_so_an_explicit_default_is_the_same_cell(tmp_path):
    base = (SUITES / "quickstart.toml").read_text()
    explicit = base.replace(
        "params = { start_round = 5, factor = 4.0 }",
        "params = { start_round = 5, factor = 4.0, period = 1 }",
    )
    assert explicit != base
    (tmp_path / "a.toml").write_text(base)
    (tmp_path / "b.toml").write_text(explicit)
    assert load_suite(tmp_path / "a.toml").hash == load_suite(tmp_path / "b.toml").hash


def test_escalation_cells_follow_the_large_checkpoint_and_other_cells_keep_their_hash():
    from forest.checkpoints import checkpoint_digest

    matrix = load_suite(SUITES / "defense_matrix.toml")
    escalated = [c for c in matrix.cells if c.defense == "escalation"]
    others = [c for c in matrix.cells if c.defense != "escalation"]
    assert escalated and others
    large = checkpoint_digest(REPO_ROOT / "checkpoints" / "large")
    assert {c.defense_digest for c in escalated} == {large}
    assert {c.defense_digest for c in others} == {""}
    assert all("defense_digest" not in c.identity() for c in others)
    cell = escalated[0]
    assert replace(cell, defense_digest="0" * 16).hash != cell.hash


@pytest.mark.parametrize("path", sorted(SUITES.glob("*.toml")), ids=lambda p: p.stem)
def test_every_shipped_suite_loads_and_expands(path):
    if path.stem == "collusion":  # redteam collusion's, a suite of labelled markets
        assert load_collusion_suite(path).scenarios
    else:
        assert load_suite(path).cells
