"""A LoRA forest on the tiny stand-in LM, its adapters moved off zero."""

import pytest
import torch

from forest.pretrained.language_model import language_model_digest, load_language_model
from forest.pretrained.modeling import PretrainedForest, PretrainedForestConfig


@pytest.fixture
def lora_forest(tiny_lm_dir):
    def build(seed: int = 0) -> PretrainedForest:
        lm = load_language_model(tiny_lm_dir)
        config = PretrainedForestConfig.on_top_of(
            lm,
            "tiny",
            language_model_digest=language_model_digest(tiny_lm_dir),
            lora_rank=2,
            lora_layers=1,
        )
        torch.manual_seed(seed)
        forest = PretrainedForest(config, lm)
        with torch.no_grad():  # lora_B starts at 0: move it so the adapters change the states
            for name, p in forest.named_parameters():
                if "lora_B" in name:
                    p.normal_(std=0.5)
        return forest.eval()

    return build
