"""``forest finetune`` end to end on a tiny forest."""

import pytest

from forest.cli import main
from forest.training import resume


@pytest.fixture(scope="module")
def tiny_source(tmp_path_factory):
    out = tmp_path_factory.mktemp("finetune_cli") / "tiny"
    assert main(["train", "--preset", "tiny", "--out", str(out)]) == 0
    return out


def test_finetune_writes_a_checkpoint_and_refuses_to_overwrite_it(tiny_source, tmp_path, capsys):
    out = tmp_path / "tuned"
    args = ["finetune", str(tiny_source), "--out", str(out), "--preset", "tiny"]
    assert main([*args, "--iterations", "1"]) == 0
    printed = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert "1 iterations" in printed
    assert f"forest eval {out}" in printed
    assert resume.is_finished(out)
    assert main([*args, "--iterations", "1"]) == 2
    assert "--force" in capsys.readouterr().out


def test_finetune_of_a_missing_checkpoint_is_a_one_line_error(tmp_path, capsys):
    assert main(["finetune", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("forest: error: ") and "does not exist" in err
    assert len(err.strip().splitlines()) == 1


def test_finetune_names_the_allowed_economies(tiny_source, tmp_path, capsys):
    with pytest.raises(SystemExit) as refused:
        main(["finetune", str(tiny_source), "--out", str(tmp_path), "--economy", "casino"])
    assert refused.value.code == 2
    assert "invalid choice: 'casino'" in capsys.readouterr().err


def test_finetune_with_a_bad_learning_rate_names_the_field(tiny_source, tmp_path, capsys):
    args = ["finetune", str(tiny_source), "--out", str(tmp_path / "o"), "--learning-rate", "-1"]
    assert main(args) == 2
    assert "learning_rate" in capsys.readouterr().err


def test_finetune_with_a_bad_iteration_count_names_the_field(tiny_source, tmp_path, capsys):
    args = ["finetune", str(tiny_source), "--out", str(tmp_path / "o"), "--iterations", "0"]
    assert main(args) == 2
    assert "iterations" in capsys.readouterr().err


def test_finetune_with_a_discount_above_one_names_the_field(tiny_source, tmp_path, capsys):
    args = ["finetune", str(tiny_source), "--out", str(tmp_path / "o"), "--discount", "1.5"]
    assert main(args) == 2
    assert "discount" in capsys.readouterr().err
