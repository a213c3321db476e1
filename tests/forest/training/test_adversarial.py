"""Adversarial training: the compromised draw, spoofed messages, the PGD perturbation, and a
tiny adversarial run that trains, finishes and regenerates bit for bit."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from forest.errors import ConfigError
from forest.model.config import ForestConfig
from forest.model.modeling_forest import ForestModel
from forest.tokenizer import AGENT_TOKENS, MSG_OFFSET, PAD, VOCAB_SIZE, AgentTokenizer
from forest.training.adversarial import (
    adversarial_round_loss,
    draw_compromised,
    honest_rows,
    spoof_messages,
    worst_delta,
)
from forest.training.behaviour_cloning import imitation_loss, train_forest
from forest.training.config import TrainConfig
from forest.training.data import collect_episode


@given(st.integers(2, 400), st.floats(0.0, 0.5), st.integers(0, 2**32 - 1))
def test_the_compromised_draw_is_at_most_the_share_and_never_empty_or_everyone(n, share, seed):
    compromised = draw_compromised(n, share, np.random.default_rng(seed))
    k = int(compromised.sum())
    assert 1 <= k <= max(1, round(share * n))
    assert k < n


@given(st.floats(0.0, 1.0), st.integers(0, 2**32 - 1))
def test_spoofing_touches_only_occupied_message_tokens_and_keeps_them_message_tokens(share, seed):
    rng = np.random.default_rng(seed)
    ids = torch.from_numpy(rng.integers(48, 100, size=(30, 12)))
    ids[:, 8:] = torch.from_numpy(rng.integers(MSG_OFFSET, 40, size=(30, 4)))
    ids[::3, 10:] = PAD  # empty message slots
    out = spoof_messages(ids, 8, share, rng)
    assert torch.equal(out[:, :8], ids[:, :8])
    assert torch.equal(out[:, 8:] == PAD, ids[:, 8:] == PAD)
    changed = out != ids
    assert not changed[ids == PAD].any()
    assert (
        (out[:, 8:][ids[:, 8:] != PAD] >= MSG_OFFSET) & (out[:, 8:][ids[:, 8:] != PAD] < 48)
    ).all()
    if share == 0.0:
        assert not changed.any()


@pytest.fixture(scope="module")
def tiny_round():
    torch.manual_seed(0)
    config = ForestConfig.preset("tiny", vocab_size=VOCAB_SIZE, max_agent_tokens=AGENT_TOKENS)
    model = ForestModel(config).eval()
    tokenizer = AgentTokenizer.fit_on_experts()
    episode = collect_episode("supply_chain", 3, 60, 3, tokenizer, config.n_actions)
    return model, episode.rounds[-1]


def test_the_pgd_perturbation_stays_in_its_budget_on_the_compromised_and_raises_the_loss(
    tiny_round,
):
    model, record = tiny_round
    train = TrainConfig.preset("tiny", adversarial_share=0.3, adversarial_epsilon=0.5)
    compromised = torch.zeros(60, dtype=torch.bool)
    compromised[::5] = True
    honest = ~compromised
    labels = honest_rows(record, honest)
    summaries = model.encode(record.input_ids, record.attention_mask, record.role_ids).detach()

    def loss(actions, messages):
        return imitation_loss(model.config, actions[honest], messages[honest], labels, 0.5, 1.0)[0]

    @torch.no_grad()
    def loss_with(delta):
        out = model(encoded=summaries, tree_ids=record.tree_ids, summary_delta=delta)
        return float(loss(out.action_logits, out.message_logits))

    delta = worst_delta(
        model, summaries, record, compromised, train, loss, np.random.default_rng(0)
    )
    radius = 0.5 * float(torch.linalg.vector_norm(summaries, dim=1).median())
    assert (delta[honest] == 0).all()
    assert (torch.linalg.vector_norm(delta[compromised], dim=1) <= radius * (1 + 1e-5)).all()
    # Above a random perturbation of the same rows and norms, not only above none: the steps
    # climb the loss, they do not just move.
    noise = torch.randn(summaries.shape, generator=torch.Generator().manual_seed(1))
    noise = noise * compromised[:, None]
    noise = noise * (torch.linalg.vector_norm(delta, dim=1) /
                     torch.linalg.vector_norm(noise, dim=1).clamp_min(1e-12))[:, None]  # fmt: skip
    assert loss_with(delta) > loss_with(noise) > loss_with(torch.zeros_like(summaries)) - 1e-3


def test_only_the_honest_agents_decisions_reach_the_loss(tiny_round):
    model, record = tiny_round
    train = TrainConfig.preset("tiny", adversarial_share=0.5)
    seen = []

    def labels_loss(actions, messages, labels):
        seen.append((actions.shape[0], messages.shape[0], labels.action_target.shape[0]))
        return actions.sum() * 0.0, {"loss": 0.0}

    _, _, figures = adversarial_round_loss(
        model, record, None, train, labels_loss, np.random.default_rng(4)
    )
    honest = round(60 * (1 - figures["compromised"]))
    assert 0 < figures["compromised"] <= 0.5
    assert seen and all(rows == (honest, honest, honest) for rows in seen)


def test_an_adversarial_run_trains_on_a_compromised_share_and_regenerates_bit_for_bit(tmp_path):
    config = TrainConfig.preset(
        "tiny",
        adversarial_share=0.25,
        adversarial_message_share=0.2,
        adversarial_pooling="trimmed-mean",
    )
    first, log = train_forest(config, tmp_path / "a")
    second, _ = train_forest(config, tmp_path / "b")
    assert all(0.0 < row["compromised"] <= 0.26 for row in log)
    assert all(np.isfinite(row["loss"]) for row in log)
    a, b = first.model.state_dict(), second.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    plain, _ = train_forest(TrainConfig.preset("tiny"), tmp_path / "plain")
    p = plain.model.state_dict()
    assert not all(torch.equal(a[k], p[k]) for k in a)


@pytest.mark.parametrize(
    "field, value",
    [
        ("adversarial_share", 0.6),
        ("adversarial_epsilon", -1.0),
        ("adversarial_steps", 0),
        ("adversarial_message_share", 1.5),
        ("adversarial_pooling", "mean"),
    ],
)
def test_a_bad_adversarial_setting_is_refused_by_name(field, value):
    with pytest.raises(ConfigError, match=field):
        TrainConfig.preset("tiny", **{"adversarial_share": 0.1, field: value})


def test_adversarial_settings_without_a_compromised_share_are_refused_not_ignored():
    with pytest.raises(ConfigError, match="adversarial_share: 0 turns adversarial training off"):
        TrainConfig.preset("tiny", adversarial_pooling="median")
