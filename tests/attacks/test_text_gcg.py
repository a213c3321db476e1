import numpy as np
import pytest
import torch
from tiny_language_model import build_pretrained_forest, save_tiny_language_model

from attacks import AttackView, make_attack
from attacks.latent import latent_round
from forest.checkpoints import load_policy
from forest.economy import make_economy
from forest.errors import ConfigError
from forest.policy import ForestPolicy
from forest.pretrained.prompts import PromptTokenizer

WHITE_BOX = {"fraction": 0.1, "knowledge": "white-box"}


@pytest.fixture(scope="module")
def text_policy(tmp_path_factory):
    lm_dir = save_tiny_language_model(tmp_path_factory.mktemp("lm"))
    torch.manual_seed(3)
    return ForestPolicy(build_pretrained_forest(lm_dir), PromptTokenizer.load(lm_dir))


def world(policy, n_agents=30):
    economy = make_economy("supply_chain", 0, n_agents=n_agents)
    for _ in range(2):
        step = policy.act(economy)
        economy.step(step.actions, step.messages)
    liars = np.unique(economy.inbox.sender)[:3]
    return economy, liars


def test_the_kept_string_is_scored_through_the_path_the_forest_reads(text_policy):
    policy = ForestPolicy(text_policy.model, text_policy.tokenizer)
    economy, liars = world(policy)
    attack = make_attack("text-gcg", {"candidates": 6, "top_k": 8}, WHITE_BOX)
    view = AttackView(2, economy, liars, policy, np.random.default_rng(0))
    text = attack.message_text(view)
    carried = np.flatnonzero(np.isin(economy.inbox.sender, liars))
    assert sorted(text) == carried.tolist()
    assert set(text.values()) == {policy.tokenizer.tokenizer.decode(attack.string)}
    # The gain it reports is the objective on the forest's own reading of those words.
    lr = latent_round(view)
    inputs = policy.model_inputs(economy, message_text=text)
    with torch.no_grad():
        summaries = policy.model.encode(
            inputs["input_ids"], inputs["attention_mask"], inputs["role_ids"], inputs["memory"]
        )
        context = policy.model.aggregate(summaries, lr.tree_ids)
        logits, _, _ = policy.model.heads(summaries, context)
    logits = logits.masked_fill(~lr.class_mask, float("-inf"))
    gain = attack.objective.gain(logits, lr.clean_logits, lr.honest, lr.roles)
    assert attack.gain == pytest.approx(float(gain), abs=1e-4)


def test_searching_never_loses_gain_and_finds_a_better_string(text_policy):
    policy = ForestPolicy(text_policy.model, text_policy.tokenizer)
    economy, liars = world(policy)
    attack = make_attack("text-gcg", {"candidates": 16, "top_k": 8, "steps": 2}, WHITE_BOX)
    view = AttackView(2, economy, liars, policy, np.random.default_rng(1))
    initial = list(
        policy.tokenizer.tokenizer(attack.params.init, add_special_tokens=False)["input_ids"]
    )
    gains = []
    for _ in range(3):
        attack.message_text(view)
        gains.append(attack.gain)
    assert gains == sorted(gains)
    assert attack.string != initial
    # The tiny tokenizer reads some of the initial words as <unk>; the search may leave those,
    # but never puts a special token in.
    special = set(policy.tokenizer.tokenizer.all_special_ids)
    assert len(attack.string) == len(initial)
    swapped = {new for old, new in zip(initial, attack.string, strict=True) if new != old}
    assert swapped and not special & swapped


def test_the_token_forest_is_refused_with_a_pointer_to_the_pretrained_forest():
    policy = load_policy("checkpoints/small")
    economy, liars = world(policy)
    attack = make_attack("text-gcg", {}, WHITE_BOX)
    with pytest.raises(ConfigError, match="reads prompts"):
        attack.message_text(AttackView(0, economy, liars, policy, np.random.default_rng(0)))


def test_text_gcg_needs_white_box_access():
    with pytest.raises(ConfigError, match="white-box"):
        make_attack("text-gcg", {}, {"fraction": 0.1})
