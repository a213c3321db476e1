"""Fixtures that more than one folder of tests/forest needs: synthetic rounds, a tiny LM."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from tiny_language_model import build_pretrained_forest, save_tiny_language_model

from forest.model import ForestConfig
from forest.pretrained.modeling import PretrainedForest
from forest.pretrained.prompts import PromptTokenizer

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


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_language_model(tmp_path_factory.mktemp("tiny_lm"))


@pytest.fixture(scope="session")
def prompt_tokenizer(tiny_lm_dir: Path) -> PromptTokenizer:
    return PromptTokenizer.load(tiny_lm_dir)


@pytest.fixture(scope="session")
def pretrained_forest(tiny_lm_dir: Path) -> PretrainedForest:
    """Shared and read-only: a test that trains or differentiates builds its own."""
    return build_pretrained_forest(tiny_lm_dir)
