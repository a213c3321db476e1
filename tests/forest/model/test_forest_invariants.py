"""ForestModel's invariants: equivariance, isolation of masked agents, finiteness, gradients."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from budget import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from forest.model import ForestConfig, ForestModel

Round = dict[str, torch.Tensor]


def run(model: ForestModel, batch: Round, **extra: torch.Tensor) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        out = model(**batch, **extra)
    return {
        "summaries": out.summaries,
        "context": out.context,
        "action_logits": out.action_logits,
        "message_logits": out.message_logits,
        "value": out.value,
    }


def test_outputs_have_the_documented_shapes(
    tiny_model: ForestModel, make_round: Callable[..., Round]
) -> None:
    c = tiny_model.config
    out = run(tiny_model, make_round(c, 50))
    assert out["summaries"].shape == out["context"].shape == (50, c.hidden_size)
    assert out["action_logits"].shape == (50, c.n_actions)
    assert out["message_logits"].shape == (50, c.message_len, c.message_vocab)
    assert out["value"].shape == (50,)


@settings(max_examples=examples(12), deadline=None)
@given(n=st.integers(2, 150), n_trees=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_permuting_agents_with_their_tree_ids_permutes_every_output(
    tiny_model: ForestModel, make_round: Callable[..., Round], n: int, n_trees: int, seed: int
) -> None:
    batch = make_round(tiny_model.config, n, n_trees, seed)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    out = run(tiny_model, batch)
    permuted = run(tiny_model, {k: v[perm] for k, v in batch.items()})
    for name, value in out.items():
        torch.testing.assert_close(permuted[name], value[perm], atol=1e-5, rtol=1e-5, msg=name)


@settings(max_examples=examples(12), deadline=None)
@given(
    n=st.integers(2, 120),
    n_trees=st.integers(1, 5),
    seed=st.integers(0, 2**16),
    scale=st.sampled_from([1.0, 1e6, 1e30]),
)
def test_an_agent_with_weight_zero_has_no_effect_on_any_other_agent(
    tiny_model: ForestModel,
    make_round: Callable[..., Round],
    n: int,
    n_trees: int,
    seed: int,
    scale: float,
) -> None:
    c = tiny_model.config
    batch = make_round(c, n, n_trees, seed)
    g = torch.Generator().manual_seed(seed + 1)
    victim = int(torch.randint(0, n, (1,), generator=g))
    weights = torch.rand(n, generator=g)
    weights[victim] = 0.0
    delta = torch.zeros(n, c.hidden_size)
    before = run(tiny_model, batch, aggregation_weights=weights, summary_delta=delta)

    wild = {k: v.clone() for k, v in batch.items()}
    wild["input_ids"][victim] = torch.randint(0, c.vocab_size, (c.max_agent_tokens,), generator=g)
    wild["attention_mask"][victim] = True
    wild["role_ids"][victim] = (wild["role_ids"][victim] + 1) % c.num_roles
    wild["memory"][victim] = scale * torch.randn(c.hidden_size, generator=g)
    delta[victim] = scale * torch.randn(c.hidden_size, generator=g)
    after = run(tiny_model, wild, aggregation_weights=weights, summary_delta=delta)

    others = torch.arange(n) != victim
    for name in before:
        # Same trees, same order of sums: the other agents' outputs are bit for bit the same.
        assert torch.equal(before[name][others], after[name][others]), name

    # Moving the masked agent into a tree of its own must not reach anyone either.
    wild["tree_ids"][victim] = 10_000
    moved = run(tiny_model, wild, aggregation_weights=weights, summary_delta=delta)
    for name in before:
        torch.testing.assert_close(moved[name][others], before[name][others], msg=name)


def test_a_masked_agent_gets_zero_gradient_from_every_other_agent(
    tiny_model: ForestModel, make_round: Callable[..., Round]
) -> None:
    c = tiny_model.config
    n, victim = 40, 11
    batch = make_round(c, n, 2)
    weights = torch.ones(n)
    weights[victim] = 0.0
    delta = torch.zeros(n, c.hidden_size, requires_grad=True)
    out = tiny_model(**batch, aggregation_weights=weights, summary_delta=delta)
    others = torch.arange(n) != victim
    out.action_logits[others].sum().backward()
    assert delta.grad is not None
    assert torch.count_nonzero(delta.grad[victim]) == 0
    assert torch.count_nonzero(delta.grad[others]) > 0


@pytest.mark.parametrize("scale", [1e10, 1e30, 3e38])
def test_outputs_stay_finite_for_extreme_memory_and_summary_delta(
    tiny_model: ForestModel, make_round: Callable[..., Round], scale: float
) -> None:
    c = tiny_model.config
    n = 30
    batch = make_round(c, n)
    batch["memory"] = torch.randn(n, c.hidden_size).sign() * scale
    delta = torch.randn(n, c.hidden_size).sign() * scale / 2
    for name, value in run(tiny_model, batch, summary_delta=delta).items():
        if name != "summaries":
            assert torch.isfinite(value).all(), name


def test_all_agents_masked_still_gives_finite_outputs(
    tiny_model: ForestModel, make_round: Callable[..., Round]
) -> None:
    batch = make_round(tiny_model.config, 20)
    out = run(tiny_model, batch, aggregation_weights=torch.zeros(20))
    assert all(torch.isfinite(v).all() for v in out.values())


def test_gradients_reach_summary_delta_input_embeddings_and_token_table(
    tiny_model: ForestModel, make_round: Callable[..., Round]
) -> None:
    c = tiny_model.config
    n = 25
    batch = make_round(c, n)
    embeds = tiny_model.get_input_embeddings()(batch.pop("input_ids")).detach().requires_grad_()
    delta = torch.zeros(n, c.hidden_size, requires_grad=True)
    tiny_model.zero_grad()
    out = tiny_model(**batch, inputs_embeds=embeds, summary_delta=delta)
    out.action_logits[:, 3].sum().backward()
    for grad in (delta.grad, embeds.grad):
        assert grad is not None
        assert torch.isfinite(grad).all()
        assert grad.abs().sum() > 0
    tiny_model.zero_grad()
    batch = make_round(c, n)
    tiny_model(**batch).action_logits.logsumexp(-1).sum().backward()
    table_grad = tiny_model.get_input_embeddings().weight.grad
    assert table_grad is not None
    assert table_grad.abs().sum() > 0
    tiny_model.zero_grad()


def test_the_three_public_steps_compose_to_forward(
    tiny_model: ForestModel, make_round: Callable[..., Round]
) -> None:
    batch = make_round(tiny_model.config, 60, 4)
    out = run(tiny_model, batch)
    with torch.no_grad():
        summaries = tiny_model.encode(
            batch["input_ids"], batch["attention_mask"], batch["role_ids"], batch["memory"]
        )
        context = tiny_model.aggregate(summaries, batch["tree_ids"])
        actions, messages, value = tiny_model.heads(summaries, context)
    torch.testing.assert_close(summaries, out["summaries"])
    torch.testing.assert_close(context, out["context"])
    torch.testing.assert_close(actions, out["action_logits"])
    torch.testing.assert_close(messages, out["message_logits"])
    torch.testing.assert_close(value, out["value"])


def test_attention_maps_are_distributions_and_masked_agents_receive_none(
    tiny_model: ForestModel, make_round: Callable[..., Round]
) -> None:
    n = 80
    batch = make_round(tiny_model.config, n, 4)
    weights = torch.ones(n)
    weights[:10] = 0.0
    with torch.no_grad():
        _, att = tiny_model.aggregate_with_attention(
            tiny_model.encode(batch["input_ids"], batch["attention_mask"], batch["role_ids"]),
            batch["tree_ids"],
            weights,
        )
    n_trees = int(att.tree_index.max()) + 1
    per_slot = torch.zeros_like(att.tree_slot_sink).index_add(
        0, att.tree_index, att.agent_to_tree_slot
    )
    torch.testing.assert_close(
        per_slot + att.tree_slot_sink, torch.ones(n_trees, *per_slot.shape[1:])
    )
    assert torch.all(att.agent_to_tree_slot[:10] == 0)
    torch.testing.assert_close(att.agent_reads.sum(-1), torch.ones(n, att.agent_reads.shape[1]))
    assert att.forest_slot_to_tree_slot.shape[2:] == (n_trees, tiny_model.config.tree_slots)


def test_encoder_chunk_size_does_not_change_the_outputs(
    tiny_config: ForestConfig, tiny_model: ForestModel, make_round: Callable[..., Round]
) -> None:
    batch = make_round(tiny_config, 100)
    other = ForestModel(ForestConfig.preset("tiny", encoder_chunk_size=7)).eval()
    other.load_state_dict(tiny_model.state_dict())
    a, b = run(tiny_model, batch), run(other, batch)
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=1e-5, rtol=1e-5, msg=name)


def test_agents_are_encoded_independently_and_padding_is_ignored(
    tiny_model: ForestModel, make_round: Callable[..., Round]
) -> None:
    batch = make_round(tiny_model.config, 20)
    batch["attention_mask"][0, -3:] = False

    def summaries(b: Round) -> torch.Tensor:
        with torch.no_grad():
            return tiny_model.encode(
                b["input_ids"], b["attention_mask"], b["role_ids"], b["memory"]
            )

    base = summaries(batch)
    changed = {k: v.clone() for k, v in batch.items()}
    changed["input_ids"][0, -3:] = (changed["input_ids"][0, -3:] + 1) % 256  # padding only
    changed["input_ids"][5] = (changed["input_ids"][5] + 1) % 256  # a whole other agent
    after = summaries(changed)
    keep = torch.arange(20) != 5
    torch.testing.assert_close(after[keep], base[keep], atol=1e-6, rtol=1e-6)
    assert not torch.allclose(after[5], base[5])


def test_attention_within_an_agent_is_bidirectional(make_round: Callable[..., Round]) -> None:
    torch.manual_seed(1)
    model = ForestModel(ForestConfig.preset("tiny", num_hidden_layers=2)).eval()
    batch = make_round(model.config, 4)
    batch["attention_mask"][:] = True
    enc = model.encoder
    with torch.no_grad():
        first = enc.token_states(
            batch["input_ids"], None, batch["attention_mask"], batch["role_ids"]
        )
        batch["input_ids"][:, -1] = (batch["input_ids"][:, -1] + 1) % 256
        second = enc.token_states(
            batch["input_ids"], None, batch["attention_mask"], batch["role_ids"]
        )
    # The memory position (first) sees the last token: no causal mask crept in.
    assert not torch.allclose(first[:, 0], second[:, 0])


def test_eager_and_sdpa_backends_agree(
    tiny_model: ForestModel, make_round: Callable[..., Round]
) -> None:
    batch = make_round(tiny_model.config, 30)
    eager = ForestModel(ForestConfig.preset("tiny", attn_implementation="eager")).eval()
    eager.load_state_dict(tiny_model.state_dict())
    a, b = run(tiny_model, batch), run(eager, batch)
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=1e-5, rtol=1e-5, msg=name)
