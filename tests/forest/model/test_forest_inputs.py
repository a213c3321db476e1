"""Bad round inputs fail before the model runs, with a message naming the argument."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from forest.errors import InvalidInputError
from forest.model import ForestModel

Round = dict[str, torch.Tensor]


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("input_ids", torch.zeros(10, 16), "input_ids"),  # float ids
        ("input_ids", torch.full((10, 16), 256), "input_ids"),  # out of vocabulary
        ("input_ids", torch.full((10, 16), -1), "input_ids"),
        ("input_ids", torch.zeros(10, 17, dtype=torch.long), "input_ids"),  # too many tokens
        ("input_ids", torch.zeros(10, dtype=torch.long), "input_ids"),
        ("attention_mask", torch.full((10, 16), 2), "attention_mask"),
        ("attention_mask", torch.ones(9, 16, dtype=torch.bool), "attention_mask"),
        ("role_ids", torch.full((10,), 6), "role_ids"),
        ("role_ids", None, "role_ids"),
        ("tree_ids", torch.full((10,), -4), "tree_ids"),
        ("tree_ids", torch.zeros(10, 1, dtype=torch.long), "tree_ids"),
        ("memory", torch.full((10, 32), float("nan")), "memory"),
        ("memory", torch.zeros(10, 31), "memory"),
        ("memory", torch.zeros(10, 32, dtype=torch.long), "memory"),
        ("aggregation_weights", torch.full((10,), 1.5), "aggregation_weights"),
        ("aggregation_weights", torch.full((10,), float("inf")), "aggregation_weights"),
        ("summary_delta", torch.full((10, 32), float("-inf")), "summary_delta"),
        ("summary_delta", [[0.0] * 32] * 10, "summary_delta"),
    ],
)
def test_a_bad_argument_raises_invalid_input_error_naming_it(
    tiny_model: ForestModel, make_round: Callable[..., Round], key: str, value: Any, named: str
) -> None:
    batch: dict[str, Any] = dict(make_round(tiny_model.config, 10))
    batch[key] = value
    with pytest.raises(InvalidInputError, match=named):
        tiny_model(**batch)


def test_exactly_one_of_input_ids_and_inputs_embeds_is_required(
    tiny_model: ForestModel, make_round: Callable[..., Round]
) -> None:
    batch = make_round(tiny_model.config, 4)
    embeds = torch.zeros(4, 16, 32)
    with pytest.raises(InvalidInputError, match="exactly one"):
        tiny_model(**batch, inputs_embeds=embeds)
    del batch["input_ids"]
    with pytest.raises(InvalidInputError, match="exactly one"):
        tiny_model(**batch)


def test_shorter_rounds_integer_masks_and_default_trees_are_accepted(
    tiny_model: ForestModel,
) -> None:
    n = 6
    with torch.no_grad():
        out = tiny_model(
            input_ids=torch.randint(0, 256, (n, 5), dtype=torch.int32),
            attention_mask=torch.ones(n, 5, dtype=torch.long),
            role_ids=torch.zeros(n, dtype=torch.int64),
        )
    assert out.action_logits.shape == (n, tiny_model.config.n_actions)
