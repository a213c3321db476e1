"""ForestConfig: presets, validation that names the field, and config.json round trips."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from budget import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from forest.errors import ConfigError, UnknownNameError
from forest.model import ForestConfig, ForestModel


@pytest.mark.parametrize("name", ForestConfig.preset_names())
def test_every_preset_builds_a_valid_config(name: str) -> None:
    config = ForestConfig.preset(name)
    assert config.model_type == "thousand-token-forest"
    assert config.hidden_size % config.num_attention_heads == 0
    assert config._attn_implementation == "sdpa"


def test_presets_grow_from_tiny_to_3b() -> None:
    widths = [ForestConfig.preset(p).hidden_size for p in ("tiny", "small", "large")]
    assert widths == sorted(widths)
    big = ForestConfig.preset("llama-3.2-3b")
    assert (big.hidden_size, big.num_hidden_layers, big.intermediate_size) == (3072, 28, 8192)
    assert (big.num_attention_heads, big.num_key_value_heads) == (24, 8)


def test_preset_overrides_are_applied_and_validated() -> None:
    assert ForestConfig.preset("small", n_actions=7).n_actions == 7
    with pytest.raises(ConfigError, match="n_actions"):
        ForestConfig.preset("small", n_actions=0)


def test_unknown_preset_is_an_unknown_name_error() -> None:
    with pytest.raises(UnknownNameError, match="tiny"):
        ForestConfig.preset("huge")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"hidden_size": "128"}, "hidden_size"),
        ({"hidden_size": 130}, "hidden_size"),  # not a multiple of 4 heads
        ({"num_key_value_heads": 3}, "num_key_value_heads"),
        ({"vocab_size": True}, "vocab_size"),
        ({"tree_slots": 0}, "tree_slots"),
        ({"forest_slots": -1}, "forest_slots"),
        ({"encoder_chunk_size": 1.5}, "encoder_chunk_size"),
        ({"max_agent_tokens": 0}, "max_agent_tokens"),
        ({"message_vocab": 1}, "message_vocab"),
        ({"rms_norm_eps": 0.0}, "rms_norm_eps"),
        ({"initializer_range": float("nan")}, "initializer_range"),
        ({"attn_implementation": "flash_attention_2"}, "attn_implementation"),
        ({"rope_parameters": {"rope_type": "default", "rope_theta": -1.0}}, "rope_theta"),
        ({"rope_parameters": {"rope_type": "spiral"}}, "rope_type"),
        ({"hiden_size": 64}, "hiden_size"),  # a typo is not silently ignored
        ({"model_type": "llama"}, "model_type"),
    ],
)
def test_wrong_type_or_impossible_value_raises_config_error_naming_the_field(
    overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(ConfigError, match=field):
        ForestConfig(**overrides)


def test_config_json_round_trip_preserves_every_field(tmp_path: Path) -> None:
    config = ForestConfig.preset("llama-3.2-3b", n_actions=17)
    config.save_pretrained(tmp_path)
    again = ForestConfig.from_pretrained(tmp_path)
    assert again.to_dict() == config.to_dict()
    assert again._attn_implementation == "sdpa"


@settings(max_examples=examples(8), deadline=None)
@given(
    heads=st.sampled_from([1, 2, 4]),
    head_dim=st.sampled_from([2, 4, 8]),
    kv_div=st.sampled_from([1, 2, 4]),
    layers=st.integers(1, 2),
    tokens=st.integers(1, 6),
    slots=st.integers(1, 3),
)
def test_any_valid_shape_builds_a_model_with_the_right_output_shapes(
    heads: int, head_dim: int, kv_div: int, layers: int, tokens: int, slots: int
) -> None:
    kv = max(1, heads // kv_div)
    config = ForestConfig(
        hidden_size=heads * head_dim,
        intermediate_size=8,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv,
        max_agent_tokens=tokens,
        tree_slots=slots,
        forest_slots=slots,
        n_actions=5,
        encoder_chunk_size=3,
    )
    model = ForestModel(config).eval()
    n = 7
    with torch.no_grad():
        out = model(
            input_ids=torch.randint(0, config.vocab_size, (n, tokens)),
            role_ids=torch.zeros(n, dtype=torch.long),
            tree_ids=torch.arange(n) % 2,
        )
    assert out.action_logits.shape == (n, 5)
    assert out.message_logits.shape == (n, config.message_len, config.message_vocab)
    assert out.summaries.shape == out.context.shape == (n, config.hidden_size)
    assert torch.isfinite(out.action_logits).all()
