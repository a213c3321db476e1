import json

import numpy as np
import pytest
import torch

from forest.checkpoints import load_policy
from forest.errors import ConfigError
from forest.pretrained.training import STATES, PretrainedTrainConfig, train_pretrained_forest
from forest.training.resume import is_finished

TINY = {
    "forest_preset": "tiny",
    "prompt_layers": 1,
    "n_agents": 20,
    "rounds": 3,
    "episodes": 1,
    "epochs": 2,
}
TINY_ROUTER = {"router_agents": 20, "router_rounds": 2, "router_epochs": 5}


class Killed(Exception):
    pass


def config(**changes) -> PretrainedTrainConfig:
    return PretrainedTrainConfig(**{**TINY, **TINY_ROUTER, **changes})


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_lm_dir):
    out = tmp_path_factory.mktemp("pretrained")
    policy, log = train_pretrained_forest(config(), tiny_lm_dir, out)
    return out, policy, log


def weights(policy):
    return policy.model.forest_state_dict()


def test_training_writes_a_finished_loadable_checkpoint_without_the_lm(trained):
    out, policy, log = trained
    assert is_finished(out) and not (out / "training").exists()
    assert len(log) == 2 * 3 * 3 and all(np.isfinite(row["loss"]) for row in log)
    assert (out / "loss_curve.png").stat().st_size > 10_000
    assert json.loads((out / "train_log.json").read_text())["log"] == log
    again = load_policy(out)
    assert all(
        torch.equal(a, b)
        for a, b in zip(weights(again).values(), weights(policy).values(), strict=True)
    )
    assert again.router is not None


def test_a_run_killed_after_the_lm_pass_resumes_from_cached_states(trained, tiny_lm_dir, tmp_path):
    _, policy, _ = trained

    def kill(phase: str, total: int) -> None:
        if phase.startswith("training"):
            raise Killed

    with pytest.raises(Killed):
        train_pretrained_forest(config(), tiny_lm_dir, tmp_path, on_phase=kill)
    assert (tmp_path / "training" / STATES).is_file()
    passes = []

    def count_lm(phase: str, total: int) -> None:
        if phase.startswith("prompt states"):
            passes.append(total)

    resumed, _ = train_pretrained_forest(config(), tiny_lm_dir, tmp_path, on_phase=count_lm)
    assert passes  # the phase still runs, reading the cache
    for a, b in zip(weights(resumed).values(), weights(policy).values(), strict=True):
        assert torch.equal(a, b)


def test_resuming_with_another_config_is_refused(tiny_lm_dir, tmp_path):
    def kill(phase: str, total: int) -> None:
        if phase.startswith("training"):
            raise Killed

    with pytest.raises(Killed):
        train_pretrained_forest(config(), tiny_lm_dir, tmp_path, on_phase=kill)
    with pytest.raises(ConfigError, match="another training config"):
        train_pretrained_forest(config(epochs=3), tiny_lm_dir, tmp_path)


@pytest.mark.parametrize(
    ("field", "value"), [("n_agents", 25), ("forest_preset", "huge"), ("epochs", 0)]
)
def test_bad_pretrained_training_config_names_the_field(field, value):
    with pytest.raises(ConfigError, match=field):
        config(**{field: value})
