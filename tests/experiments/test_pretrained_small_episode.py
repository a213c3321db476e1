import importlib.util
from pathlib import Path

import pytest

from forest.errors import ForestError

REPO = Path(__file__).parents[2]
SCRIPT = REPO / "experiments" / "pretrained_small_episode.py"
spec = importlib.util.spec_from_file_location("pretrained_small_episode", SCRIPT)
pretrained_small_episode = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pretrained_small_episode)


@pytest.mark.parametrize(
    ("checkpoint", "economies"),
    [
        ("pretrained-lora", ("exchange", "pricing", "supply_chain")),
        ("pretrained-lora-supply-chain", ("supply_chain",)),
    ],
)
def test_it_plays_the_economies_the_checkpoint_was_adapted_to(checkpoint, economies):
    path = REPO / "checkpoints" / checkpoint
    assert pretrained_small_episode.adapted_economies(path) == economies


def test_a_checkpoint_without_an_adaptation_log_is_a_one_line_error(tmp_path, capsys):
    with pytest.raises(ForestError, match="name them with --economy"):
        pretrained_small_episode.adapted_economies(tmp_path)
    assert pretrained_small_episode.main(["--checkpoint", str(tmp_path)]) == 2
    assert "error:" in capsys.readouterr().err
