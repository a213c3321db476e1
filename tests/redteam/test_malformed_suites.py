"""Every malformed suite in ``malformed_suites/`` is refused by `redteam run` before anything runs.

Each file's first line is ``# expect: <substring>``: a distinctive part of the one-line error
the validator must give (usually the field path). The rest of the file is a suite that is valid
except for one thing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from redteam.cli import main
from redteam.suite import SuiteError, load_suite

REPO_ROOT = Path(__file__).parents[2]
CORPUS = Path(__file__).parent / "malformed_suites"
SUITES = sorted(CORPUS.glob("*.toml"))
EXPECT_PREFIX = "# expect: "


def expected_substring(path: Path) -> str:
    # Bytes, not text: one file of the corpus is deliberately not UTF-8.
    first_line = path.read_bytes().split(b"\n", 1)[0].decode("ascii")
    assert first_line.startswith(EXPECT_PREFIX), f"{path.name}: first line must be '# expect: ...'"
    expected = first_line.removeprefix(EXPECT_PREFIX).strip()
    assert expected, f"{path.name}: empty expectation"
    return expected


def test_corpus_has_at_least_15_suites_each_expecting_a_different_error() -> None:
    assert len(SUITES) >= 15
    expectations = [expected_substring(p) for p in SUITES]
    duplicates = sorted({e for e in expectations if expectations.count(e) > 1})
    assert not duplicates, f"two files expect the same error: {duplicates}"


@pytest.mark.parametrize("path", SUITES, ids=[p.stem for p in SUITES])
def test_run_refuses_malformed_suite_with_one_line_error_exit_2_and_no_mlflow_writes(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    expected = expected_substring(path)
    monkeypatch.chdir(REPO_ROOT)  # suites name checkpoints relative to the current folder
    # A suite the validator accepts would really run (minutes, and MLflow writes): fail first.
    try:
        load_suite(path)
    except SuiteError:
        pass
    else:
        pytest.fail(f"{path.name}: the validator accepted it (expected an error with {expected!r})")

    code = main(["run", str(path), "--tracking-uri", f"sqlite:///{tmp_path}/mlflow.db"])

    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2
    assert "Traceback" not in err
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    (line,) = lines
    assert line.startswith("redteam: error: ")
    assert path.name in line
    assert expected in line
    assert not (tmp_path / "mlflow.db").exists()
    assert not (tmp_path / "mlartifacts").exists()
