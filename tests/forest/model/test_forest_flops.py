"""Analytic FLOPs agree with torch's FLOP counter, scale as claimed, and cost the 3B preset."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from forest.model import (
    DenseForest,
    ForestConfig,
    ForestModel,
    dense_flops,
    forest_flops,
    meta_model,
    parameter_counts,
)

Round = dict[str, torch.Tensor]


def counted_flops(model: torch.nn.Module, batch: Round) -> int:
    # no_grad rather than inference_mode: the counter's module hooks need autograd tensors.
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(**batch)
    return counter.get_total_flops()


@pytest.mark.parametrize("dense", [False, True])
def test_analytic_flops_match_torch_flop_counter_on_tiny(
    make_round: Callable[..., Round], dense: bool
) -> None:
    # The CPU flash-attention kernel has no FLOP formula in torch; eager attention is matmuls.
    config = ForestConfig.preset("tiny", attn_implementation="eager")
    model = (DenseForest if dense else ForestModel)(config).eval()
    n = 64
    batch = make_round(config, n, n_trees=5)
    n_trees = int(batch["tree_ids"].unique().numel())
    expected = dense_flops(config, n) if dense else forest_flops(config, n, n_trees=n_trees)
    assert counted_flops(model, batch) == pytest.approx(expected.total, rel=0.05)


def test_forest_flops_are_linear_in_agents_and_dense_flops_are_not() -> None:
    config = ForestConfig.preset("small")
    f1, f10 = (forest_flops(config, n, n_trees=n // 50).total for n in (1_000, 10_000))
    d1, d10 = (dense_flops(config, n).total for n in (1_000, 10_000))
    assert f10 / f1 == pytest.approx(10, rel=0.01)
    assert d10 / d1 > 50


def test_llama_3b_preset_builds_on_meta_with_a_3b_class_encoder() -> None:
    config = ForestConfig.preset("llama-3.2-3b")
    model = meta_model(config)
    assert all(p.is_meta for p in model.parameters())
    counts = parameter_counts(model)
    # Llama 3.2 3B without its 128k-token embedding table: 28 layers of 100.7M parameters.
    assert 2.7e9 < counts["encoder"] < 3.0e9
    assert counts["total"] == sum(p.numel() for p in model.parameters())
    per_agent = forest_flops(config, 1_000).total / 1_000
    # About 2 FLOPs per parameter per position, 18 positions per agent.
    assert 2 * 18 * counts["encoder"] * 0.9 < per_agent < 2 * 18 * counts["total"] * 1.1


def test_meta_dense_model_builds_for_the_3b_preset() -> None:
    counts = parameter_counts(meta_model(ForestConfig.preset("llama-3.2-3b"), dense=True))
    assert counts["joint_layer"] > 9e7
