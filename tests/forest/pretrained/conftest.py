import pytest
from tiny_language_model import build_pretrained_forest, save_tiny_language_model

from forest.pretrained.prompts import PromptTokenizer


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory):
    return save_tiny_language_model(tmp_path_factory.mktemp("tiny_lm"))


@pytest.fixture(scope="session")
def prompt_tokenizer(tiny_lm_dir):
    return PromptTokenizer.load(tiny_lm_dir)


@pytest.fixture(scope="session")
def pretrained_forest(tiny_lm_dir):
    """Shared and read-only: a test that trains or differentiates builds its own."""
    return build_pretrained_forest(tiny_lm_dir)
