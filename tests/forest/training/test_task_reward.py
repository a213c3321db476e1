import json

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from forest import checkpoints
from forest.errors import ConfigError, UnknownNameError
from forest.training import resume
from forest.training.behaviour_cloning import TrainingError, train_forest
from forest.training.config import TrainConfig
from forest.training.task_reward import (
    FINETUNE_CURVE,
    RewardedRound,
    action_log_probs,
    clipped_policy_loss,
    discounted_returns,
    finetune_forest,
    role_baselined_advantages,
    sample_classes,
    tree_shared_flags,
)
from forest.training.task_reward_config import TaskRewardConfig


class Killed(Exception):
    pass


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny_source")
    train_forest(TrainConfig.preset("tiny"), out)
    return out


@pytest.fixture(scope="module")
def finetuned(source, tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny_finetuned")
    policy, log = finetune_forest(TaskRewardConfig.preset("tiny"), source, out)
    return out, policy, log


def state_dicts_equal(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


flags_strategy = st.integers(1, 8).flatmap(
    lambda rounds: arrays(np.float64, (rounds, 5), elements=st.sampled_from([0.0, 1.0]))
)


@given(flags_strategy, st.floats(0.0, 1.0))
def test_returns_equal_the_discounted_sum_of_later_flags(flags, discount):
    returns = discounted_returns(flags, discount)
    rounds = flags.shape[0]
    for t in range(rounds):
        expected = sum(discount**k * flags[t + k] for k in range(rounds - t))
        np.testing.assert_allclose(returns[t], expected, atol=1e-12)


@given(
    arrays(np.float64, (6, 9), elements=st.floats(0.0, 5.0)),
    arrays(np.int64, 9, elements=st.integers(0, 2)),
)
def test_advantages_average_zero_within_each_round_and_role(returns, roles):
    advantages = role_baselined_advantages(returns, roles)
    for role in np.unique(roles):
        np.testing.assert_allclose(advantages[:, roles == role].mean(axis=1), 0.0, atol=1e-9)
    spread = advantages.std()
    assert spread == 0.0 or abs(spread - 1.0) < 1e-9


@given(
    arrays(np.float64, (4, 8), elements=st.sampled_from([0.0, 1.0])),
    arrays(np.int64, 8, elements=st.integers(0, 3)),
)
def test_tree_shared_flags_give_every_member_its_trees_mean(flags, trees):
    shared = tree_shared_flags(flags, trees)
    for tree in np.unique(trees):
        members = trees == tree
        tree_mean = flags[:, members].mean(axis=1)
        expected = np.broadcast_to(tree_mean[:, None], (flags.shape[0], members.sum()))
        np.testing.assert_allclose(shared[:, members], expected)


def test_a_supply_chain_trees_shared_flag_is_the_share_of_its_agents_without_backlog():
    flags = np.array([[1.0, 0.0, 0.0, 1.0, 1.0, 1.0]])
    trees = np.array([7, 7, 7, 2, 2, 2])
    np.testing.assert_allclose(tree_shared_flags(flags, trees), [[1 / 3] * 3 + [1.0] * 3])


def test_agents_of_one_role_with_equal_returns_get_no_advantage():
    returns = np.array([[1.0, 1.0, 3.0, 0.0], [2.0, 2.0, 1.0, 1.0]])
    roles = np.array([0, 0, 1, 1])
    advantages = role_baselined_advantages(returns, roles)
    np.testing.assert_array_equal(advantages[:, :2], 0.0)
    assert advantages[0, 2] > 0 > advantages[0, 3]


@given(st.integers(0, 2**31 - 1), st.lists(st.integers(1, 7), min_size=1, max_size=12))
def test_sampled_classes_are_always_valid_and_carry_their_log_prob(seed, n_valid):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(len(n_valid), 7, generator=generator) * 5
    valid = torch.arange(7)[None, :] < torch.tensor(n_valid)[:, None]
    log_probs = action_log_probs(logits, valid, temperature=1.0)
    chosen, taken = sample_classes(log_probs, generator)
    assert bool((chosen < torch.tensor(n_valid)).all())
    torch.testing.assert_close(taken, log_probs[torch.arange(len(n_valid)), chosen])


def rewarded_round(logits: torch.Tensor, chosen: torch.Tensor, advantage: torch.Tensor):
    n, classes = logits.shape
    valid = torch.ones(n, classes, dtype=torch.bool)
    sampled = action_log_probs(logits, valid, 1.0).gather(1, chosen[:, None])[:, 0]
    return RewardedRound(
        input_ids=torch.zeros(n, 1, dtype=torch.long),
        attention_mask=torch.ones(n, 1, dtype=torch.bool),
        role_ids=torch.zeros(n, dtype=torch.long),
        tree_ids=torch.zeros(n, dtype=torch.long),
        action_target=chosen,
        action_valid=torch.full((n,), classes),
        message_target=torch.zeros(n, 1, dtype=torch.long),
        advantage=advantage,
        sampled_log_prob=sampled.detach(),
    )


def test_a_step_on_the_clipped_loss_makes_well_rewarded_classes_likelier():
    logits = torch.zeros(2, 4, requires_grad=True)
    record = rewarded_round(logits, torch.tensor([1, 2]), torch.tensor([1.0, -1.0]))
    loss, figures = clipped_policy_loss(logits, record, temperature=1.0, clip=0.2)
    loss.backward()
    stepped = logits.detach() - 0.5 * logits.grad
    probs = torch.softmax(stepped, dim=1)
    assert probs[0, 1] > 0.25 > probs[1, 2]
    assert figures["clipped_share"] == 0.0


def test_a_ratio_past_the_clip_gives_no_gradient_in_the_advantages_direction():
    old = torch.zeros(1, 4)
    record = rewarded_round(old, torch.tensor([0]), torch.tensor([1.0]))
    moved = torch.tensor([[3.0, 0.0, 0.0, 0.0]], requires_grad=True)  # ratio ~ 3.5 > 1.2
    loss, figures = clipped_policy_loss(moved, record, temperature=1.0, clip=0.2)
    loss.backward()
    assert figures["clipped_share"] == 1.0
    assert torch.count_nonzero(moved.grad) == 0


def test_finetuning_writes_a_loadable_checkpoint_curve_and_log(finetuned, source):
    out, policy, log = finetuned
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "router.safetensors"} <= names
    assert "training" not in names
    assert (out / FINETUNE_CURVE).stat().st_size > 10_000
    assert [row["iteration"] for row in log] == [0, 1]
    assert all(0.0 <= row["task_completion"] <= 1.0 for row in log)
    assert json.loads((out / "train_log.json").read_text())["log"] == log
    again = checkpoints.load_policy(out)
    assert state_dicts_equal(again.model.state_dict(), policy.model.state_dict())
    before = checkpoints.load_policy(source)
    assert not state_dicts_equal(before.model.state_dict(), policy.model.state_dict())
    assert state_dicts_equal(again.router.state_dict(), before.router.state_dict())


def test_finetuning_twice_with_one_seed_gives_identical_weights(finetuned, source, tmp_path):
    _, policy, log = finetuned
    again, again_log = finetune_forest(TaskRewardConfig.preset("tiny"), source, tmp_path)
    assert state_dicts_equal(again.model.state_dict(), policy.model.state_dict())
    assert again_log == log


def test_a_killed_finetune_resumes_to_the_same_weights(finetuned, source, tmp_path):
    _, policy, log = finetuned

    def kill_after_first(row):
        raise Killed

    with pytest.raises(Killed):
        finetune_forest(TaskRewardConfig.preset("tiny"), source, tmp_path, kill_after_first)
    # Killed before the first iteration's checkpoint: nothing to resume yet.
    assert not resume.has_training_state(tmp_path)

    def kill_at_second(row):
        if row["iteration"] == 1:
            raise Killed

    with pytest.raises(Killed):
        finetune_forest(TaskRewardConfig.preset("tiny"), source, tmp_path, kill_at_second)
    assert resume.has_training_state(tmp_path)
    resumed, resumed_log = finetune_forest(TaskRewardConfig.preset("tiny"), source, tmp_path)
    assert state_dicts_equal(resumed.model.state_dict(), policy.model.state_dict())
    assert resumed_log == log


def test_resuming_with_another_config_is_refused(source, tmp_path):
    def kill_at_second(row):
        if row["iteration"] == 1:
            raise Killed

    with pytest.raises(Killed):
        finetune_forest(TaskRewardConfig.preset("tiny"), source, tmp_path, kill_at_second)
    with pytest.raises(TrainingError, match="another source or config"):
        finetune_forest(TaskRewardConfig.preset("tiny", discount=0.5), source, tmp_path)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("economy", "casino"),
        ("n_agents", 35),
        ("anchor_agents", 10),
        ("discount", 1.5),
        ("clip", 0.0),
        ("reward_scope", "market"),
        ("temperature", -1.0),
        ("iterations", 0),
        ("epochs", 0),
    ],
)
def test_bad_finetune_config_names_the_field(field, value):
    with pytest.raises(ConfigError, match=field):
        TaskRewardConfig(**{field: value})


def test_unknown_preset_and_field_are_refused():
    with pytest.raises(UnknownNameError, match="preset"):
        TaskRewardConfig.preset("huge")
    with pytest.raises(ConfigError, match="gamma"):
        TaskRewardConfig.preset("tiny", gamma=0.9)
