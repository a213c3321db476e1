import pytest
import torch

from forest.errors import InvalidInputError


def test_sybils_join_the_aggregation_but_outputs_stay_per_real_agent(tiny_model, make_round):
    inputs = make_round(tiny_model.config, 12)
    d = tiny_model.config.hidden_size
    with torch.no_grad():
        clean = tiny_model(**inputs)
        fakes = 5.0 * torch.randn(3, d, generator=torch.Generator().manual_seed(1))
        trees = inputs["tree_ids"][:3].clone()
        attacked = tiny_model(**inputs, sybil_summaries=fakes, sybil_tree_ids=trees)
    assert attacked.action_logits.shape == clean.action_logits.shape
    assert torch.equal(attacked.summaries, clean.summaries)  # sybils have no encoder input
    assert not torch.allclose(attacked.context, clean.context)  # but the slots heard them


def test_sybils_in_a_new_tree_of_their_own_still_reach_everyone_through_the_forest_slots(
    tiny_model, make_round
):
    inputs = make_round(tiny_model.config, 12)
    fakes = torch.randn(
        2, tiny_model.config.hidden_size, generator=torch.Generator().manual_seed(2)
    )
    lonely = torch.tensor([10_000, 10_000])
    with torch.no_grad():
        clean = tiny_model(**inputs)
        attacked = tiny_model(**inputs, sybil_summaries=fakes, sybil_tree_ids=lonely)
    moved = (attacked.context - clean.context).abs().amax(dim=1)
    assert bool((moved > 0).all())


def test_malformed_sybils_are_clear_errors(tiny_model, tiny_dense, make_round):
    inputs = make_round(tiny_model.config, 6)
    d = tiny_model.config.hidden_size
    with pytest.raises(InvalidInputError, match="pass both or neither"):
        tiny_model(**inputs, sybil_summaries=torch.zeros(1, d))
    with pytest.raises(InvalidInputError, match="sybil_summaries: expected finite"):
        tiny_model(**inputs, sybil_summaries=torch.full((1, d), float("nan")),
                   sybil_tree_ids=torch.tensor([3]))  # fmt: skip
    with pytest.raises(InvalidInputError, match="sybil_tree_ids"):
        tiny_model(**inputs, sybil_summaries=torch.zeros(1, d), sybil_tree_ids=torch.tensor([-1]))
    with pytest.raises(InvalidInputError, match="DenseForest"):
        tiny_dense(**inputs, sybil_summaries=torch.zeros(1, d), sybil_tree_ids=torch.tensor([3]))
