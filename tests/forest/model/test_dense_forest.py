"""DenseForest: the O(n^2) baseline has the forest's interface and really is dense."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from forest.errors import InvalidInputError
from forest.model import DenseForest, ForestConfig, dense_flops, forest_flops

Round = dict[str, torch.Tensor]


def test_dense_forest_runs_with_the_forest_interface(
    tiny_dense: DenseForest, make_round: Callable[..., Round]
) -> None:
    c = tiny_dense.config
    n = 40
    delta = torch.randn(n, c.hidden_size)
    with torch.no_grad():
        out = tiny_dense(**make_round(c, n), summary_delta=delta, aggregation_weights=torch.ones(n))
    assert out.summaries.shape == out.context.shape == (n, c.hidden_size)
    assert out.action_logits.shape == (n, c.n_actions)
    assert out.message_logits.shape == (n, c.message_len, c.message_vocab)
    assert torch.isfinite(out.action_logits).all()


def test_dense_context_of_every_agent_depends_on_every_other_agent(
    tiny_dense: DenseForest, make_round: Callable[..., Round]
) -> None:
    batch = make_round(tiny_dense.config, 12, n_trees=4)
    with torch.no_grad():
        before = tiny_dense(**batch).context
        batch["input_ids"][0] = (batch["input_ids"][0] + 1) % 256
        after = tiny_dense(**batch).context
    # No trees in the dense baseline: agent 0 reaches all the others.
    assert torch.all((after[1:] - before[1:]).abs().amax(-1) > 0)


def test_dense_agent_with_weight_zero_has_no_effect_on_others(
    tiny_dense: DenseForest, make_round: Callable[..., Round]
) -> None:
    c = tiny_dense.config
    n = 15
    batch = make_round(c, n)
    weights = torch.ones(n)
    weights[3] = 0.0
    with torch.no_grad():
        before = tiny_dense(**batch, aggregation_weights=weights).context
        batch["input_ids"][3] = (batch["input_ids"][3] + 5) % 256
        batch["memory"][3] = 1e30
        after = tiny_dense(**batch, aggregation_weights=weights).context
    others = torch.arange(n) != 3
    torch.testing.assert_close(after[others], before[others])


def test_dense_forest_refuses_a_round_with_every_agent_masked(
    tiny_dense: DenseForest, make_round: Callable[..., Round]
) -> None:
    with pytest.raises(InvalidInputError, match="aggregation_weights"):
        tiny_dense(**make_round(tiny_dense.config, 5), aggregation_weights=torch.zeros(5))


def test_dense_flops_exceed_the_forests_by_a_growing_factor() -> None:
    config = ForestConfig.preset("small")
    ratios = []
    for n in (1_000, 2_000, 5_000, 10_000):
        ratios.append(dense_flops(config, n).total / forest_flops(config, n, n_trees=n // 50).total)
    assert ratios == sorted(ratios)
    assert ratios[-1] > 1.8 * ratios[0]
    # The article's claim, at 1,000 agents: the compressed round is more than 60% cheaper.
    assert 1 - 1 / ratios[0] > 0.6
