import json

import numpy as np
import pytest
import torch

from forest.economy import make_economy
from forest.tokenizer import AgentTokenizer
from forest.training import checkpoints
from forest.training.behaviour_cloning import TrainingError, train_forest
from forest.training.config import TrainConfig
from forest.training.data import IGNORE, collect_episode, expert_message_targets


class Killed(Exception):
    pass


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    policy, log = train_forest(TrainConfig.preset("tiny"), out)
    return out, policy, log


def state_dicts_equal(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_tiny_training_writes_a_loadable_checkpoint_with_router_and_log(trained):
    out, policy, log = trained
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "router.safetensors"} <= names
    assert (out / "loss_curve.png").stat().st_size > 10_000
    assert "training" not in names  # the resume state goes once the run is finished
    assert all(np.isfinite(row["loss"]) for row in log)
    assert json.loads((out / "train_log.json").read_text())["log"] == log
    again = checkpoints.load_policy(out)
    assert state_dicts_equal(again.model.state_dict(), policy.model.state_dict())
    assert state_dicts_equal(again.router.state_dict(), policy.router.state_dict())


def test_training_twice_with_one_seed_gives_identical_weights(trained, tmp_path):
    _, policy, _ = trained
    policy_again, _ = train_forest(TrainConfig.preset("tiny"), tmp_path)
    assert state_dicts_equal(policy_again.model.state_dict(), policy.model.state_dict())


def test_a_killed_run_resumes_to_the_same_weights(trained, tmp_path):
    _, policy, log = trained

    def kill_at_second_iteration(phase: str, total: int) -> None:
        if phase.startswith("iteration 2"):
            raise Killed

    with pytest.raises(Killed):
        train_forest(TrainConfig.preset("tiny"), tmp_path, on_phase=kill_at_second_iteration)
    assert checkpoints.has_training_state(tmp_path)
    resumed, resumed_log = train_forest(TrainConfig.preset("tiny"), tmp_path)
    assert state_dicts_equal(resumed.model.state_dict(), policy.model.state_dict())
    assert resumed_log == log


def test_resuming_with_another_config_is_refused(tmp_path):
    def kill(phase: str, total: int) -> None:
        if phase.startswith("iteration 2"):
            raise Killed

    with pytest.raises(Killed):
        train_forest(TrainConfig.preset("tiny"), tmp_path, on_phase=kill)
    with pytest.raises(TrainingError, match="another training config"):
        train_forest(TrainConfig.preset("tiny", learning_rate=0.1), tmp_path)


def test_expert_message_targets_hold_each_senders_first_informative_message():
    economy = make_economy("supply_chain", seed=0, n_agents=30)
    economy.step(*economy.expert())
    _, messages = economy.expert()
    targets = expert_message_targets(economy, messages)
    sender, _ = economy.message_recipients()
    assert np.all(targets[sender] != IGNORE)
    silent = np.setdiff1d(np.arange(30), sender)
    assert np.all(targets[silent] == IGNORE)


def test_dagger_episodes_label_states_with_expert_actions():
    tokenizer = AgentTokenizer.fit_on_experts(n_agents=60, rounds=3, seeds=1)
    episode = collect_episode("pricing", 3, 60, 4, tokenizer, 1024)
    assert len(episode.rounds) == 4
    record = episode.rounds[0]
    assert record.action_target.max() < 15 and torch.all(record.action_valid == 15)


@pytest.mark.parametrize(
    ("field", "value"), [("n_agents", 25), ("model_preset", "huge"), ("learning_rate", 0.0)]
)
def test_bad_training_config_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig.preset("tiny", **{field: value})
