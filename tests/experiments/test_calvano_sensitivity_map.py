import csv
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).parents[2] / "experiments" / "calvano_sensitivity_map.py"
spec = importlib.util.spec_from_file_location("calvano_sensitivity_map", SCRIPT)
calvano_sensitivity_map = importlib.util.module_from_spec(spec)
# Registered by name: its dataclass looks its module up there, and the worker processes find
# run_cell there.
sys.modules[spec.name] = calvano_sensitivity_map
spec.loader.exec_module(calvano_sensitivity_map)


def test_the_default_grid_spans_calvanos_ranges_and_holds_his_baseline():
    alphas, betas = calvano_sensitivity_map.grid(10, 10)
    assert (alphas[0], alphas[-1]) == pytest.approx((0.025, 0.25))
    assert (betas[0], betas[-1]) == pytest.approx((2e-6, 2e-5))
    assert np.isclose(alphas, 0.15).any() and np.isclose(betas, 4e-6).any()


def test_every_cell_lands_in_the_csv_and_the_heatmap_is_drawn(tmp_path, capsys):
    figure, numbers = tmp_path / "map.png", tmp_path / "map.csv"
    argv = ["--alphas", "2", "--betas", "3", "--markets", "2", "--max-periods", "2000",
            "--workers", "1", "--figure", str(figure), "--numbers", str(numbers)]  # fmt: skip
    assert calvano_sensitivity_map.main(argv) == 0
    with numbers.open() as rows:
        cells = list(csv.DictReader(rows))
    grid = [(float(c["alpha"]), float(c["beta"]) * 1e5) for c in cells]
    assert np.allclose(grid, [(a, b) for a in (0.025, 0.25) for b in (2 / 3, 4 / 3, 2)], rtol=1e-5)
    assert all(int(c["markets"]) == 2 and c["converged"] == "0" for c in cells)
    assert figure.stat().st_size > 0
    assert "6 cells x 2 markets" in capsys.readouterr().out
