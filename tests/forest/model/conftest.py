"""Shared fixtures: seeded tiny forests (synthetic rounds come from tests/forest/conftest.py)."""

from __future__ import annotations

import pytest
import torch

from forest.model import DenseForest, ForestConfig, ForestModel


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
