"""The real SmolLM2-135M where `make pretrained` ran: always in CI (tests/support/smollm2.py)."""

import torch
from smollm2 import needs_pretrained_extra

from forest.economy import make_economy
from forest.policy import ForestPolicy
from forest.pretrained.language_model import import_smollm2, load_language_model
from forest.pretrained.modeling import PretrainedForest, PretrainedForestConfig
from forest.pretrained.prompts import PromptTokenizer

pytestmark = needs_pretrained_extra


def test_the_gguf_imports_as_smollm2_and_reads_agent_prompts(tmp_path):
    out = import_smollm2(tmp_path / "smollm2")
    lm = load_language_model(out)
    config = lm.config
    assert (config.hidden_size, config.num_hidden_layers, config.vocab_size) == (576, 30, 49152)
    assert 134_000_000 < sum(p.numel() for p in lm.parameters()) < 135_000_000
    tokenizer = PromptTokenizer.load(out)
    assert tokenizer.tokenizer.padding_side == "right"
    forest = PretrainedForest(PretrainedForestConfig.on_top_of(lm, "small"), lm)
    economy = make_economy("pricing", seed=0, n_agents=10)
    step = ForestPolicy(forest, tokenizer).act(economy)
    assert step.actions.shape == (10,)
    tokens = tokenizer.encode(economy)
    states = forest.prompt_states(
        torch.from_numpy(tokens.input_ids), torch.from_numpy(tokens.attention_mask)
    )
    assert states.shape == (10, tokens.input_ids.shape[1], 576)
    assert bool(torch.isfinite(states).all())
    assert load_language_model(out, layers=10).config.num_hidden_layers == 10
