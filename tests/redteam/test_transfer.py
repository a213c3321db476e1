import numpy as np
import pytest
import torch
from tiny_language_model import build_pretrained_forest, save_tiny_language_model

from attacks import make_attack
from forest.economy import make_economy
from forest.errors import ConfigError
from forest.interventions import NO_INTERVENTIONS
from forest.model.config import ForestConfig
from forest.model.modeling_forest import ForestModel
from forest.policy import ForestPolicy
from forest.pretrained.language_model import load_language_model
from forest.pretrained.modeling import PretrainedForest, PretrainedForestConfig
from forest.pretrained.prompts import PromptTokenizer
from forest.tokenizer import AGENT_TOKENS, VOCAB_SIZE, AgentTokenizer
from redteam.counterfactual import play_attacked, play_twin
from redteam.transfer import TransferredAttack

ROUNDS = 4
WHITE_BOX = {"fraction": 0.1, "knowledge": "white-box"}


@pytest.fixture(scope="module")
def forests(tmp_path_factory):
    """A token forest and a pretrained forest, both tiny and 32 wide."""
    lm_dir = save_tiny_language_model(tmp_path_factory.mktemp("lm"))
    torch.manual_seed(0)
    token = ForestModel(
        ForestConfig.preset("tiny", vocab_size=VOCAB_SIZE, max_agent_tokens=AGENT_TOKENS)
    ).eval()
    tokenizer = AgentTokenizer.fit_on_experts(n_agents=60, rounds=3, seeds=1)
    text = ForestPolicy(build_pretrained_forest(lm_dir), PromptTokenizer.load(lm_dir))
    return ForestPolicy(token, tokenizer), text


class Spy(ForestPolicy):
    """Counts the rounds it plays."""

    rounds = 0

    def act(self, economy, interventions=NO_INTERVENTIONS):
        Spy.rounds += 1
        return super().act(economy, interventions)


def attacked(victim, attack, seed=0):
    fresh = ForestPolicy(victim.model, victim.tokenizer)
    twin = play_twin(make_economy("supply_chain", seed, n_agents=30), fresh, ROUNDS)
    fresh.reset()
    economy = make_economy("supply_chain", seed, n_agents=30)
    return play_attacked(economy, fresh, attack, None, twin, np.random.default_rng(0)), twin


def test_a_transferred_attack_optimises_on_the_surrogate_that_plays_every_round(forests):
    token, text = forests
    inner = make_attack("latent-pgd-targeted", {"steps": 3, "epsilon": 4.0}, WHITE_BOX)
    spy = Spy(token.model, token.tokenizer)
    attack = TransferredAttack(inner, spy)
    record, twin = attacked(text, attack)
    assert attack.surrogate.memory is not None
    assert attack.surrogate.memory.shape == (30, token.model.config.hidden_size)
    assert not np.array_equal(record.actions, twin.actions)


def test_a_surrogate_of_another_width_is_refused_when_it_writes_the_latent(forests, tmp_path):
    token, _ = forests
    lm_dir = save_tiny_language_model(tmp_path / "lm")
    lm = load_language_model(lm_dir)
    wide = PretrainedForest(PretrainedForestConfig.on_top_of(lm, "tiny", hidden_size=48), lm)
    victim = ForestPolicy(token.model, token.tokenizer)
    surrogate = ForestPolicy(wide, PromptTokenizer.load(lm_dir))
    inner = make_attack("latent-pgd", {"steps": 1}, WHITE_BOX)
    with pytest.raises(ConfigError, match="48-wide"):
        attacked(victim, TransferredAttack(inner, surrogate))


def test_black_box_attacks_play_the_same_through_a_surrogate(forests):
    token, text = forests
    direct, _ = attacked(token, make_attack("phantom-orders", {}, WHITE_BOX))
    through, _ = attacked(
        token, TransferredAttack(make_attack("phantom-orders", {}, WHITE_BOX), text)
    )
    assert np.array_equal(direct.actions, through.actions)
    assert np.array_equal(direct.success, through.success)


def test_an_episode_level_attack_is_refused_a_transfer_it_would_plan_on_the_victim(forests):
    token, _ = forests
    inner = make_attack("latent-episode-search", {}, WHITE_BOX)
    with pytest.raises(ConfigError, match="may not query"):
        TransferredAttack(inner, token).plan(None)
    assert TransferredAttack(make_attack("latent-noise"), token).plan(None) is None
