import itertools
import json
import shutil

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from forest import checkpoints
from forest.actions import actions_to_classes
from forest.economy import make_economy
from forest.economy.supply_chain_config import SupplyChainConfig
from forest.errors import InvalidInputError
from forest.tokenizer import AgentTokenizer
from forest.training import resume
from forest.training.behaviour_cloning import (
    TrainingError,
    cosine_learning_rate,
    epoch_order,
    train_forest,
)
from forest.training.config import TrainConfig
from forest.training.data import (
    IGNORE,
    EpisodeRecord,
    collect_episode,
    expert_message_targets,
)


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
    assert resume.has_training_state(tmp_path)
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
    ("field", "value"),
    [
        ("n_agents", 25),
        ("model_preset", "huge"),
        ("learning_rate", 0.0),
        ("interleave_economies", "yes"),
        ("cosine_decay", 1),
        ("expert_presets", {"casino": "default"}),
        ("expert_presets", {"supply_chain": "no-such-preset"}),
        ("expert_presets", [("supply_chain", "tuned-expert")]),
        ("init_from", 3),
    ],
)
def test_bad_training_config_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig.preset("tiny", **{field: value})


def fake_episodes(lengths: list[int]) -> list[EpisodeRecord]:
    names = ["supply_chain", "exchange", "pricing"]
    return [EpisodeRecord(names[i % 3], i, [None] * n) for i, n in enumerate(lengths)]


@given(
    lengths=st.lists(st.integers(1, 6), min_size=1, max_size=6),
    interleave=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_an_epoch_visits_every_round_once_with_each_episode_in_play_order(
    lengths, interleave, seed
):
    order = epoch_order(fake_episodes(lengths), np.random.default_rng(seed), interleave)
    assert sorted(order) == [(e, t) for e, n in enumerate(lengths) for t in range(n)]
    for e in range(len(lengths)):
        assert [t for episode, t in order if episode == e] == list(range(lengths[e]))


def test_interleaving_alternates_economies_and_sequential_runs_episodes_back_to_back():
    episodes = fake_episodes([4, 4, 4])
    interleaved = epoch_order(episodes, np.random.default_rng(0), interleave=True)
    sequential = epoch_order(episodes, np.random.default_rng(0), interleave=False)
    assert [t for _, t in interleaved] == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert len({e for e, _ in interleaved[:3]}) == 3
    assert [e for e, _ in sequential[:4]] == [sequential[0][0]] * 4


def test_the_cosine_schedule_starts_at_the_rate_and_ends_at_zero():
    rates = [cosine_learning_rate(1e-3, step, 100) for step in range(101)]
    assert rates[0] == pytest.approx(1e-3) and rates[50] == pytest.approx(5e-4)
    assert rates[-1] == pytest.approx(0.0, abs=1e-12)
    assert all(a >= b for a, b in itertools.pairwise(rates))


def test_the_large_preset_interleaves_economies_and_anneals():
    large = TrainConfig.preset("large")
    assert large.interleave_economies and large.cosine_decay
    small = TrainConfig.preset("small")
    assert not small.interleave_economies and not small.cosine_decay


def test_an_interleaved_annealed_tiny_run_trains_and_resumes_identically(tmp_path):
    config = TrainConfig.preset("tiny", interleave_economies=True, cosine_decay=True)
    policy, log = train_forest(config, tmp_path / "full")
    assert all(np.isfinite(row["loss"]) for row in log)
    economies = [row["economy"] for row in log[:3]]
    assert len(set(economies)) == 3  # round 0 of each economy's episode comes first

    def kill(phase: str, total: int) -> None:
        if phase.startswith("iteration 2"):
            raise Killed

    with pytest.raises(Killed):
        train_forest(config, tmp_path / "killed", on_phase=kill)
    resumed, _ = train_forest(config, tmp_path / "killed")
    assert state_dicts_equal(resumed.model.state_dict(), policy.model.state_dict())


def test_an_expert_preset_labels_its_economy_with_that_expert():
    tokenizer = AgentTokenizer.fit_on_experts(n_agents=60, rounds=3, seeds=1)
    config = SupplyChainConfig.preset("tuned-expert", n_agents=60)
    episode = collect_episode("supply_chain", 3, 60, 6, tokenizer, 64, config=config)
    tuned = make_economy("supply_chain", 3, config=config)
    plain = make_economy("supply_chain", 3, n_agents=60)
    differs = False
    for record in episode.rounds:
        tuned_actions, tuned_messages = tuned.expert()
        expected = actions_to_classes(tuned, tuned_actions, 64)
        np.testing.assert_array_equal(record.action_target.numpy(), expected)
        plain_actions, plain_messages = plain.expert()
        differs |= bool((actions_to_classes(plain, plain_actions, 64) != expected).any())
        tuned.step(tuned_actions, tuned_messages)
        plain.step(plain_actions, plain_messages)
    assert differs


def test_a_run_started_from_a_checkpoint_begins_at_its_weights(trained, tmp_path):
    source, policy, _ = trained
    barely = {"iterations": 1, "learning_rate": 1e-12}
    started = train_forest(
        TrainConfig.preset("tiny", init_from=str(source), **barely), tmp_path / "init"
    )[0]
    fresh = train_forest(TrainConfig.preset("tiny", **barely), tmp_path / "fresh")[0]
    start_weights = policy.model.state_dict()
    for name, tensor in started.model.state_dict().items():
        torch.testing.assert_close(tensor, start_weights[name], atol=1e-6, rtol=0)
    assert not all(
        torch.allclose(tensor, start_weights[name], atol=1e-3)
        for name, tensor in fresh.model.state_dict().items()
    )


def test_starting_from_a_checkpoint_of_another_shape_is_refused(trained, tmp_path):
    source, _, _ = trained
    config = TrainConfig.preset("large-tuned-expert", init_from=str(source))
    with pytest.raises(InvalidInputError, match="not a large forest"):
        train_forest(config, tmp_path)


def test_resuming_onto_a_changed_starting_checkpoint_is_refused(trained, tmp_path):
    source, _, _ = trained
    start = tmp_path / "start"
    shutil.copytree(source, start)
    config = TrainConfig.preset("tiny", init_from=str(start))

    def kill(phase: str, total: int) -> None:
        if phase.startswith("iteration 2"):
            raise Killed

    with pytest.raises(Killed):
        train_forest(config, tmp_path / "run", on_phase=kill)
    changed = checkpoints.load_policy(start).model
    with torch.no_grad():
        next(changed.parameters()).add_(0.01)
    changed.save_pretrained(start)
    with pytest.raises(TrainingError, match="starting checkpoint"):
        train_forest(config, tmp_path / "run")
