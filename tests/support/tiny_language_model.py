"""A tiny randomly initialised Llama with a word-level tokenizer, saved like an imported LM.

It stands in for SmolLM2 in tests: the same folder layout (config.json, model.safetensors,
tokenizer.json, tokenizer_config.json), a vocabulary fitted on the economies' own prompts, and a
few thousand parameters, so CI never needs the 93 MB package.
"""

from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaModel, PreTrainedTokenizerFast

from forest.economy import economy_names, make_economy
from forest.pretrained.language_model import language_model_digest, load_language_model
from forest.pretrained.modeling import PretrainedForest, PretrainedForestConfig
from forest.pretrained.prompts import render_prompts

PAD, UNK = "<pad>", "<unk>"


def prompt_vocabulary() -> list[str]:
    splitter = pre_tokenizers.Sequence(
        [pre_tokenizers.Whitespace(), pre_tokenizers.Digits(individual_digits=True)]
    )
    words = set("0123456789") | {"KIND6", "KIND7", "ignore", "order", "100"}
    for name in economy_names():
        economy = make_economy(name, 0, n_agents=30)
        for _ in range(3):
            for prompt in render_prompts(economy):
                words.update(piece for piece, _ in splitter.pre_tokenize_str(prompt))
            economy.step(*economy.expert())
    return [PAD, UNK, *sorted(words)]


def save_tiny_language_model(directory: Path, seed: int = 0) -> Path:
    directory = Path(directory)
    vocab = {word: i for i, word in enumerate(prompt_vocabulary())}
    backend = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Whitespace(), pre_tokenizers.Digits(individual_digits=True)]
    )
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token=PAD, unk_token=UNK)
    tokenizer.save_pretrained(directory)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=vocab[PAD],
        tie_word_embeddings=True,
    )
    LlamaModel(config).save_pretrained(directory)
    return directory


def build_pretrained_forest(lm_dir) -> PretrainedForest:
    lm = load_language_model(lm_dir)
    config = PretrainedForestConfig.on_top_of(
        lm, "tiny", language_model_digest=language_model_digest(lm_dir)
    )
    return PretrainedForest(config, lm).eval()
