import importlib.util
from pathlib import Path

import pytest

from forest.checkpoints import load_policy

ROOT = Path(__file__).parents[2]
SCRIPT = ROOT / "experiments" / "harm_decomposition.py"
spec = importlib.util.spec_from_file_location("harm_decomposition", SCRIPT)
harm_decomposition = importlib.util.module_from_spec(spec)
spec.loader.exec_module(harm_decomposition)


@pytest.fixture(scope="module")
def decomposed():
    policy = load_policy(ROOT / "checkpoints" / "small")
    return harm_decomposition.one_round(policy, agents=30, share=0.2, warmup=2, seed=0)


def test_masking_the_compromised_leaves_every_honest_decision_and_only_direct_harm(decomposed):
    masked = decomposed["trimmed mean, masked"]
    assert masked["honest changed"] == 0.0
    assert masked["through honest"] == 0.0
    assert masked["total"] == pytest.approx(masked["direct"])


def test_the_attack_does_harm_in_every_deployment(decomposed):
    assert set(decomposed) == set(harm_decomposition.DEPLOYMENTS)
    assert all(figures["total"] > 0 for figures in decomposed.values())


def test_bad_arguments_are_one_line_errors(capsys):
    with pytest.raises(SystemExit):
        harm_decomposition.main(["--share", "1.5"])
    assert "--share" in capsys.readouterr().err
    assert harm_decomposition.main(["--checkpoints", "/nonexistent", "--seeds", "0"]) == 2
