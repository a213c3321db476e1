"""Training's resume state: an optimizer and its episodes come back exactly, and go when done."""

import json

import pytest
import torch

from forest.errors import InvalidInputError
from forest.training.data import EpisodeRecord, RoundRecord
from forest.training.resume import (
    TRAIN_LOG,
    finish_training,
    has_training_state,
    is_finished,
    load_training_state,
    save_training_state,
)


def episode(seed: int, rounds: int = 3, n: int = 4) -> EpisodeRecord:
    g = torch.Generator().manual_seed(seed)

    def one_round() -> RoundRecord:
        return RoundRecord(
            input_ids=torch.randint(0, 50, (n, 6), generator=g),
            attention_mask=torch.rand(n, 6, generator=g) > 0.3,
            role_ids=torch.randint(0, 3, (n,), generator=g),
            tree_ids=torch.randint(0, 2, (n,), generator=g),
            action_target=torch.randint(0, 9, (n,), generator=g),
            action_valid=torch.full((n,), 9),
            message_target=torch.randint(-100, 20, (n, 5), generator=g),
        )

    return EpisodeRecord("pricing", seed, [one_round() for _ in range(rounds)])


def stepped_optimizer() -> torch.optim.Optimizer:
    torch.manual_seed(0)
    layer = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(layer.parameters(), lr=0.01)
    layer(torch.randn(5, 3)).sum().backward()
    optimizer.step()
    return optimizer


def test_state_round_trips_and_goes_when_training_finishes(tmp_path):
    optimizer, episodes = stepped_optimizer(), [episode(1), episode(2, rounds=2)]
    assert not has_training_state(tmp_path)
    save_training_state(tmp_path, optimizer, episodes, {"iterations_done": 2, "log": [1.5]})
    assert has_training_state(tmp_path) and not is_finished(tmp_path)

    fresh = torch.optim.AdamW(torch.nn.Linear(3, 2).parameters(), lr=0.5)
    again, progress = load_training_state(tmp_path, fresh)
    assert progress == {"iterations_done": 2, "log": [1.5]}
    assert fresh.param_groups[0]["lr"] == 0.01
    for slot, want in zip(fresh.state.values(), optimizer.state.values(), strict=True):
        assert all(torch.equal(slot[k], want[k]) for k in want)
    assert [(e.economy, e.seed, len(e.rounds)) for e in again] == [
        ("pricing", 1, 3),
        ("pricing", 2, 2),
    ]
    for got, want in zip(again[0].rounds, episodes[0].rounds, strict=True):
        assert all(torch.equal(getattr(got, f), getattr(want, f)) for f in want.__dict__)

    finish_training(tmp_path, {"log": [1.5, 1.2]})
    assert is_finished(tmp_path) and not (tmp_path / "training").exists()
    assert json.loads((tmp_path / TRAIN_LOG).read_text()) == {"log": [1.5, 1.2]}


def test_a_corrupt_optimizer_state_names_its_file(tmp_path):
    save_training_state(tmp_path, stepped_optimizer(), [], {"iterations_done": 1})
    (tmp_path / "training" / "optimizer.safetensors").write_bytes(b"\x00" * 5)
    with pytest.raises(InvalidInputError, match=r"optimizer\.safetensors"):
        load_training_state(tmp_path, stepped_optimizer())
