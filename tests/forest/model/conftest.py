"""Shared fixtures: seeded tiny forests and synthetic rounds."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from forest.model import DenseForest, ForestConfig, ForestModel

Round = dict[str, torch.Tensor]


def build_round(config: ForestConfig, n: int, n_trees: int = 3, seed: int = 0) -> Round:
    """A round of n agents with random tokens, some padding, roles, trees and memories."""
    g = torch.Generator().manual_seed(seed)
    t = config.max_agent_tokens
    lengths = torch.randint(1, t + 1, (n, 1), generator=g)
    return {
        "input_ids": torch.randint(0, config.vocab_size, (n, t), generator=g),
        "attention_mask": torch.arange(t).unsqueeze(0) < lengths,
        "role_ids": torch.randint(0, config.num_roles, (n,), generator=g),
        "tree_ids": torch.randint(0, n_trees, (n,), generator=g) * 7 + 3,
        "memory": torch.randn(n, config.hidden_size, generator=g),
    }


@pytest.fixture(scope="session")
def make_round() -> Callable[..., Round]:
    return build_round


@pytest.fixture(scope="module")
def tiny_config() -> ForestConfig:
    return ForestConfig.preset("tiny")


@pytest.fixture(scope="module")
def tiny_model(tiny_config: ForestConfig) -> ForestModel:
    torch.manual_seed(0)
    return ForestModel(tiny_config).eval()


@pytest.fixture(scope="module")
def tiny_dense(tiny_config: ForestConfig) -> DenseForest:
    torch.manual_seed(0)
    return DenseForest(tiny_config).eval()
