"""The forest's configuration: one validated ``PretrainedConfig`` plus named size presets.

The agent encoder is a stack of transformers' Llama decoder layers, and those layers read their
shape straight from the config object they are given. ``ForestConfig`` therefore carries the few
Llama attributes they need (as fixed class constants where the forest never varies them) so that
it can be handed to ``LlamaDecoderLayer`` directly, and switching the attention backend on the
model reaches every layer.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from transformers import PretrainedConfig
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

from forest.errors import ConfigError, UnknownNameError
from forest.validation import require, require_float, require_int

ATTN_IMPLEMENTATIONS = ("sdpa", "eager")

# Keys that PretrainedConfig itself consumes from keyword arguments (and from config.json).
# Anything else that is not a field is a typo or a foreign config, and is refused.
_BASE_KWARGS = frozenset(
    {
        "model_type",
        "attn_implementation",
        "experts_implementation",
        "torch_dtype",
        "name_or_path",
        "output_attentions",
        "num_labels",
        "rope_theta",
        "_commit_hash",
        "_attn_implementation_internal",
        "_experts_implementation_internal",
    }
)

PRESETS: dict[str, dict[str, Any]] = {
    # Unit tests: every code path (GQA, several encoder chunks) in milliseconds.
    "tiny": {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "tree_slots": 2,
        "forest_slots": 2,
        "encoder_chunk_size": 64,
    },
    # The default system under test, sized to serve 1,000 agents well under 320 ms on a 2-core
    # CPU. The encoder is compute-bound there; a 3x MLP (384) rather than 4x (512) costs 18%
    # fewer FLOPs per agent and buys the headroom.
    # Chunks of 128 agents keep a chunk's activations near the caches: measured here, 1,024-agent
    # chunks made a 1,000-agent round ~1.9x slower than 128 or 256.
    "small": {
        "hidden_size": 128,
        "intermediate_size": 384,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 4,
        "tree_slots": 4,
        "forest_slots": 4,
        "encoder_chunk_size": 128,
    },
    # The escalation target: wider, deeper, more slots, same head width as small. A first try
    # at 256 wide and 4 deep, trained at small's learning rate, fell far behind small in the
    # supply chain (README, issue #4).
    "large": {
        "hidden_size": 192,
        "intermediate_size": 576,
        "num_hidden_layers": 3,
        "num_attention_heads": 6,
        "num_key_value_heads": 6,
        "tree_slots": 6,
        "forest_slots": 6,
        "encoder_chunk_size": 128,
    },
    # The article's model shape (Llama 3.2 3B) for GPUs; build it on the meta device on a CPU.
    "llama-3.2-3b": {
        "hidden_size": 3072,
        "intermediate_size": 8192,
        "num_hidden_layers": 28,
        "num_attention_heads": 24,
        "num_key_value_heads": 8,
        "tree_slots": 16,
        "forest_slots": 16,
        "encoder_chunk_size": 128,
        "rms_norm_eps": 1e-5,
        "rope_parameters": {
            "rope_type": "llama3",
            "rope_theta": 500000.0,
            "factor": 32.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8192,
        },
    },
}


class ForestConfig(PretrainedConfig):
    """Shape of a Thousand-Token Forest: agent encoder, hierarchical slot aggregation, heads.

    Each agent's round is ``max_agent_tokens`` input tokens, framed by a memory position in front
    (where the previous summary is injected) and a summary position at the end, so the encoder
    sees ``max_agent_tokens + 2`` positions per agent.
    """

    model_type = "thousand-token-forest"

    vocab_size: int = 256
    max_agent_tokens: int = 16
    hidden_size: int = 128
    intermediate_size: int = 384
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 4
    num_roles: int = 6
    tree_slots: int = 4
    forest_slots: int = 4
    n_actions: int = 1024
    message_len: int = 3
    message_vocab: int = 40
    rms_norm_eps: float = 1e-5
    initializer_range: float = 0.02
    encoder_chunk_size: int = 1024
    rope_parameters: dict | None = None

    # Llama attributes the decoder layers read; the forest never varies them.
    hidden_act: ClassVar[str] = "silu"
    attention_bias: ClassVar[bool] = False
    attention_dropout: ClassVar[float] = 0.0
    mlp_bias: ClassVar[bool] = False

    def __post_init__(self, **kwargs: Any) -> None:
        self._validate_fields()
        foreign_type = kwargs.get("model_type", self.model_type)
        if foreign_type != self.model_type:
            raise ConfigError(
                f"model_type: expected {self.model_type!r}, got {foreign_type!r} "
                "(this is the config of another model)"
            )
        unknown = sorted(set(kwargs) - _BASE_KWARGS)
        if unknown:
            raise ConfigError(f"ForestConfig: unknown field(s) {unknown}")
        kwargs.pop("model_type", None)
        kwargs.setdefault("attn_implementation", "sdpa")
        attn = kwargs["attn_implementation"]
        require(
            attn in ATTN_IMPLEMENTATIONS,
            "attn_implementation",
            f"one of {ATTN_IMPLEMENTATIONS}",
            attn,
        )
        # The base class standardises rope_parameters in place: give it our own copy.
        self.rope_parameters = copy.deepcopy(self.rope_parameters)
        super().__post_init__(**kwargs)
        theta = self.rope_parameters.get("rope_theta")
        require_float(theta, "rope_parameters.rope_theta", 0.0, low_open=True)
        kinds = ("default", *ROPE_INIT_FUNCTIONS)
        kind = self.rope_parameters.get("rope_type")
        require(kind in kinds, "rope_parameters.rope_type", f"one of {kinds}", kind)

    def _validate_fields(self) -> None:
        require_int(self.vocab_size, "vocab_size", 2)
        require_int(self.max_agent_tokens, "max_agent_tokens", 1, 4096)
        require_int(self.hidden_size, "hidden_size", 2)
        require_int(self.intermediate_size, "intermediate_size", 1)
        require_int(self.num_hidden_layers, "num_hidden_layers", 1)
        require_int(self.num_attention_heads, "num_attention_heads", 1)
        require_int(self.num_key_value_heads, "num_key_value_heads", 1)
        require_int(self.num_roles, "num_roles", 1)
        require_int(self.tree_slots, "tree_slots", 1)
        require_int(self.forest_slots, "forest_slots", 1)
        require_int(self.n_actions, "n_actions", 1)
        require_int(self.message_len, "message_len", 1)
        require_int(self.message_vocab, "message_vocab", 2)
        require_float(self.rms_norm_eps, "rms_norm_eps", 0.0, 1.0, low_open=True)
        require_float(self.initializer_range, "initializer_range", 0.0, 1.0, low_open=True)
        require_int(self.encoder_chunk_size, "encoder_chunk_size", 1)
        heads, kv_heads = self.num_attention_heads, self.num_key_value_heads
        require(
            self.hidden_size % heads == 0,
            "hidden_size",
            f"a multiple of num_attention_heads ({heads})",
            self.hidden_size,
        )
        require(
            (self.hidden_size // heads) % 2 == 0,
            "hidden_size",
            "an even head dimension (hidden_size / num_attention_heads) for rotary embeddings",
            self.hidden_size,
        )
        require(
            heads % kv_heads == 0,
            "num_key_value_heads",
            f"a divisor of num_attention_heads ({heads})",
            kv_heads,
        )
        require(
            self.rope_parameters is None or isinstance(self.rope_parameters, dict),
            "rope_parameters",
            "a dict or None",
            self.rope_parameters,
        )

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def sequence_length(self) -> int:
        """Encoder positions per agent: memory, the input tokens, summary."""
        return self.max_agent_tokens + 2

    @property
    def max_position_embeddings(self) -> int:
        return self.sequence_length

    @classmethod
    def preset_names(cls) -> list[str]:
        return sorted(PRESETS)

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> ForestConfig:
        """A named preset (``tiny``, ``small``, ``large``, ``llama-3.2-3b``) plus overrides."""
        if name not in PRESETS:
            raise UnknownNameError(
                f"preset: unknown ForestConfig preset {name!r}; allowed: {cls.preset_names()}"
            )
        return cls(**{**copy.deepcopy(PRESETS[name]), **overrides})
