import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tiny_language_model import build_pretrained_forest

from forest.economy import make_economy
from forest.errors import InvalidInputError
from forest.policy import ForestPolicy
from forest.pretrained.language_model import load_language_model
from forest.pretrained.modeling import PretrainedForest, PretrainedForestConfig


def round_inputs(tokenizer, name="supply_chain", n_agents=30):
    economy = make_economy(name, seed=1, n_agents=n_agents)
    economy.step(*economy.expert())
    tokens = tokenizer.encode(economy)
    return economy, {
        "input_ids": torch.from_numpy(tokens.input_ids),
        "attention_mask": torch.from_numpy(tokens.attention_mask),
        "role_ids": torch.from_numpy(economy.role),
        "tree_ids": torch.from_numpy(economy.tree_ids()),
    }


def test_padding_never_changes_a_prompt_state_or_a_summary(pretrained_forest, prompt_tokenizer):
    _, inputs = round_inputs(prompt_tokenizer)
    ids, mask, roles = inputs["input_ids"], inputs["attention_mask"], inputs["role_ids"]
    lengths = mask.sum(dim=1)
    assert int(lengths.min()) < ids.shape[1]  # some agents' prompts are padded
    with torch.no_grad():
        together = pretrained_forest.prompt_states(ids, mask)
        summaries = pretrained_forest.encode(ids, mask, roles)
        for agent in (0, 7, 29):
            length = int(lengths[agent])
            alone_ids = ids[agent : agent + 1, :length]
            alone = pretrained_forest.prompt_states(alone_ids)
            torch.testing.assert_close(alone[0], together[agent, :length], atol=1e-5, rtol=1e-5)
            summary = pretrained_forest.encode(alone_ids, role_ids=roles[agent : agent + 1])
            torch.testing.assert_close(summary[0], summaries[agent], atol=1e-5, rtol=1e-5)


def test_reading_the_first_layers_is_the_full_lm_stopped_there(tiny_lm_dir, prompt_tokenizer):
    full, first = load_language_model(tiny_lm_dir), load_language_model(tiny_lm_dir, layers=1)
    assert len(first.layers) == 1 and first.config.num_hidden_layers == 1
    _, inputs = round_inputs(prompt_tokenizer)
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    with torch.no_grad():
        hidden = full(input_ids=ids, attention_mask=mask.long(), output_hidden_states=True)
        read = first(input_ids=ids, attention_mask=mask.long()).last_hidden_state
    torch.testing.assert_close(read, full.norm(hidden.hidden_states[1]), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("layers", [0, 3, 1.5, True])
def test_reading_more_layers_than_the_lm_has_is_refused(tiny_lm_dir, layers):
    with pytest.raises(InvalidInputError, match="layers to read"):
        load_language_model(tiny_lm_dir, layers=layers)


@settings(max_examples=10)
@given(seed=st.integers(0, 2**32 - 1))
def test_permuting_agents_permutes_every_output(pretrained_forest, prompt_tokenizer, seed):
    _, inputs = round_inputs(prompt_tokenizer)
    order = torch.from_numpy(np.random.default_rng(seed).permutation(30))
    with torch.no_grad():
        out = pretrained_forest(**inputs)
        shuffled = pretrained_forest(**{k: v[order] for k, v in inputs.items()})
    torch.testing.assert_close(shuffled.action_logits, out.action_logits[order], atol=1e-4, rtol=0)
    torch.testing.assert_close(shuffled.summaries, out.summaries[order], atol=1e-4, rtol=0)


def test_the_lm_stays_frozen_while_gradients_reach_its_token_embeddings(
    tiny_lm_dir, prompt_tokenizer
):
    pretrained_forest = build_pretrained_forest(tiny_lm_dir)
    _, inputs = round_inputs(prompt_tokenizer)
    pretrained_forest.train()
    assert not pretrained_forest.language_model.training
    embeds = pretrained_forest.get_input_embeddings()(inputs["input_ids"]).detach()
    embeds.requires_grad_(True)
    out = pretrained_forest(
        inputs_embeds=embeds, **{k: v for k, v in inputs.items() if k != "input_ids"}
    )
    out.action_logits[:, 0].sum().backward()
    assert embeds.grad is not None and float(embeds.grad.abs().sum()) > 0
    assert all(p.grad is None for p in pretrained_forest.language_model.parameters())
    assert pretrained_forest.prompt_proj.weight.grad is not None


def test_the_policy_plays_an_economy_through_prompts(pretrained_forest, prompt_tokenizer):
    economy = make_economy("pricing", seed=0, n_agents=20)
    policy = ForestPolicy(pretrained_forest, prompt_tokenizer)
    for _ in range(3):
        step = policy.act(economy)
        economy.step(step.actions, step.messages)
    assert step.actions.shape == (20,) and np.isfinite(step.confidence).all()
    assert policy.memory.shape == (20, pretrained_forest.config.hidden_size)


def test_only_the_forest_weights_are_saved(pretrained_forest):
    names = pretrained_forest.forest_state_dict()
    assert names and not any(name.startswith("language_model.") for name in names)
    assert "prompt_proj.weight" in names


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda i: {**i, "input_ids": i["input_ids"] + 10_000}, "input_ids"),
        (lambda i: {**i, "attention_mask": torch.zeros_like(i["attention_mask"])}, "real token"),
        (lambda i: {**i, "input_ids": i["input_ids"].repeat(1, 9)}, "prompt tokens"),
    ],
)
def test_malformed_prompts_are_refused_with_a_clear_error(
    pretrained_forest, prompt_tokenizer, change, message
):
    _, inputs = round_inputs(prompt_tokenizer)
    changed = change(inputs)
    if changed["input_ids"].shape != changed["attention_mask"].shape:
        changed["attention_mask"] = None
    with pytest.raises(InvalidInputError, match=message):
        pretrained_forest(**changed)


def test_a_forest_refuses_a_language_model_of_another_shape(pretrained_forest):
    config = PretrainedForestConfig.on_top_of(
        pretrained_forest.language_model, "tiny", prompt_hidden_size=48
    )
    with pytest.raises(InvalidInputError, match="width 48"):
        PretrainedForest(config, pretrained_forest.language_model)


def test_analytic_flops_of_a_pretrained_round_match_torch_flop_counter(tiny_lm_dir):
    from torch.utils.flop_counter import FlopCounterMode

    from forest.model.flops import forest_flops
    from forest.pretrained.language_model import load_language_model
    from forest.pretrained.prompts import PromptTokenizer

    lm = load_language_model(tiny_lm_dir)
    lm.set_attn_implementation("eager")  # the CPU flash kernel has no FLOP formula in torch
    config = PretrainedForestConfig.on_top_of(lm, "tiny", attn_implementation="eager")
    model = PretrainedForest(config, lm).eval()
    _, inputs = round_inputs(PromptTokenizer.load(tiny_lm_dir))
    tokens = inputs["input_ids"].shape[1]
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(**inputs)
    n_trees = int(inputs["tree_ids"].unique().numel())
    expected = forest_flops(config, 30, n_trees=n_trees, tokens=tokens).total
    assert counter.get_total_flops() == pytest.approx(expected, rel=0.05)
