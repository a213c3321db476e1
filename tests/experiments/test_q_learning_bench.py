import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "experiments" / "q_learning_bench.py"
spec = importlib.util.spec_from_file_location("q_learning_bench", SCRIPT)
q_learning_bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(q_learning_bench)


def test_the_bench_times_both_backends_and_prints_their_ratio(capsys):
    per_market = q_learning_bench.bench(markets=3, periods=2000, repeats=1, seed=0)
    assert set(per_market) == {"numpy", "numba"} and min(per_market.values()) > 0
    assert q_learning_bench.main(["--markets", "3", "--periods", "2000", "--repeats", "1"]) == 0
    assert "x faster, identical Q-tables" in capsys.readouterr().out
