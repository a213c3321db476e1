import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "experiments" / "fuzz_counts.py"
spec = importlib.util.spec_from_file_location("fuzz_counts", SCRIPT)
fuzz_counts = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fuzz_counts)

STATISTICS = """
============================ Hypothesis Statistics =============================
tests/forest/economy/test_pricing.py::test_prices_on_grid:

  - during reuse phase (0.01 seconds):
    - Typical runtimes: ~ 1ms, of which < 1ms in data generation
    - 3 passing, 0 failing, and 0 invalid test cases

  - during generate phase (5.89 seconds):
    - Typical runtimes: ~ 0-2 ms, of which ~ 0-1 ms in data generation
    - 1997 passing, 0 failing, and 404 invalid test cases

tests/attacks/test_alie.py::test_budget_holds:

  - during generate phase (95.1 seconds):
    - 200 passing, 1 failing, and 0 invalid test cases
"""


def test_counts_sum_over_phases_per_property_and_failures_fail_the_script(tmp_path, capsys):
    counts = fuzz_counts.parse(STATISTICS)
    pricing = "tests/forest/economy/test_pricing.py::test_prices_on_grid"
    alie = "tests/attacks/test_alie.py::test_budget_holds"
    assert counts == {
        pricing: {"passing": 2000, "failing": 0},
        alie: {"passing": 200, "failing": 1},
    }
    path = tmp_path / "stats.txt"
    path.write_text(STATISTICS)
    assert fuzz_counts.main([str(path)]) == 1
    out = capsys.readouterr().out
    assert "forest/economy" in out and "FAILED tests/attacks/test_alie.py::test_budget_holds" in out


def test_a_file_without_statistics_is_refused(tmp_path, capsys):
    path = tmp_path / "empty.txt"
    path.write_text("42 passed in 3.0s\n")
    assert fuzz_counts.main([str(path)]) == 2
    assert "no hypothesis statistics" in capsys.readouterr().err
