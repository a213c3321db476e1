"""``forest profit-finetune`` end to end on the shipped small forest, tiny preset."""

from pathlib import Path

import pytest

from forest.cli import main
from forest.seating import load_seated
from forest.training import resume

SHIPPED = str(Path(__file__).resolve().parents[2] / "checkpoints" / "small")


def test_profit_finetune_writes_seated_firms_and_refuses_to_overwrite_them(tmp_path, capsys):
    out = tmp_path / "firms"
    args = ["profit-finetune", SHIPPED, "--out", str(out), "--preset", "tiny",
            "--seating", "independent", "--iterations", "1"]  # fmt: skip
    assert main(args) == 0
    printed = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert "1 iterations" in printed and "price level" in printed
    assert resume.is_finished(out)
    assert len(load_seated(out).model.firms) == 2
    assert main(args) == 2
    assert "--force" in capsys.readouterr().out


def test_profit_finetune_names_the_allowed_seatings(tmp_path, capsys):
    with pytest.raises(SystemExit) as refused:
        main(["profit-finetune", SHIPPED, "--out", str(tmp_path), "--seating", "cartel"])
    assert refused.value.code == 2
    assert "invalid choice: 'cartel'" in capsys.readouterr().err


@pytest.mark.parametrize(("flag", "value", "field"),
                         [("--iterations", "0", "iterations"),
                          ("--entropy-weight", "-1", "entropy_weight"),
                          ("--markets", "0", "markets")])  # fmt: skip
def test_profit_finetune_with_a_bad_setting_names_the_field(tmp_path, capsys, flag, value, field):
    assert main(["profit-finetune", SHIPPED, "--out", str(tmp_path / "o"), flag, value]) == 2
    err = capsys.readouterr().err
    assert err.startswith("forest: error: ") and field in err


def test_profit_finetune_of_a_missing_checkpoint_is_a_one_line_error(tmp_path, capsys):
    assert main(["profit-finetune", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("forest: error: ") and len(err.strip().splitlines()) == 1
