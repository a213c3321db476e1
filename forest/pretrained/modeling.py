"""The pretrained forest: a frozen pretrained LM reads each agent's prompt; the forest sits on top.

Method (n agents, prompts of T LM tokens, LM width H, forest width d):

(a0) ``prompt_states``: the first L decoder layers of the frozen language model (SmolLM2's, causal
     as it was pretrained) read every agent's prompt and give one state per prompt token,
     ``(n, T, H)``. Why per token and why not all 30 layers: a linear probe of the
     observations (``experiments/prompt_probe.py``) reads each number back from the state at its
     last digit (R^2 0.91-1.00 at layer 10, save two features that are mostly zero) but not from
     the mean over the prompt (mostly negative R^2), and layer 10 reads them as well as layer 30
     at a third of the cost.
     With ``lora_rank > 0`` the last ``lora_layers`` of those L layers carry LoRA adapters
     (``peft``): low-rank updates of every projection, trained with the forest
     (``forest.pretrained.adaptation``), the rest of the LM frozen. ``lora_rank = 0`` is the
     frozen-LM forest, the baseline. ``frozen_states`` and ``adapted_states`` split (a0) there:
     the frozen part of a prompt's pass depends on the prompt alone, so training computes it once.
(a1) ``summarize``: a learned projection takes every prompt state to an input position of the
     forest's own agent encoder, which reads ``[memory] prompt [summary]`` exactly as in
     ``ForestModel`` (padding masked) and gives the summary token ``(n, d)``.
(b), (c): the forest's hierarchical slot aggregation and heads, unchanged.

Everything after (a0) is ``ForestModel``'s, so every latent, aggregation, population and
message-token attack and every defense runs on both forests. ``encode`` also accepts
``inputs_embeds (n, T, H)``, the LM's token embeddings, so white-box attacks differentiate with
respect to the real vocabulary's embeddings. Only the forest's weights are trained and saved;
the language model stays frozen and is loaded from its own folder (checked by digest).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers import LlamaModel
from transformers.masking_utils import create_causal_mask
from transformers.models.llama.modeling_llama import LlamaRMSNorm

from forest.errors import InvalidInputError
from forest.model import inputs as check
from forest.model.config import PRESETS, ForestConfig
from forest.model.modeling_forest import ForestModel
from forest.pretrained.language_model import MissingExtraError
from forest.pretrained.prompts import MAX_PROMPT_TOKENS
from forest.validation import require_int

# Every projection of a Llama layer: attention's four and the MLP's three.
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class PretrainedForestConfig(ForestConfig):
    """A ``ForestConfig`` for the forest on top, plus the shape of the language model under it.

    ``max_agent_tokens`` equals ``max_prompt_tokens``: the forest's encoder reads one position
    per prompt token. ``prompt_num_layers`` counts the LM layers read (the first ones), and
    ``language_model_digest`` names the LM weights the forest was fitted on.
    """

    model_type = "thousand-token-forest-pretrained"

    prompt_hidden_size: int = 576
    prompt_vocab_size: int = 49152
    max_prompt_tokens: int = MAX_PROMPT_TOKENS
    # The LM's shape as read, for costing a round (forest.model.flops); SmolLM2-135M's widths.
    prompt_num_layers: int = 30
    prompt_intermediate_size: int = 1536
    prompt_num_heads: int = 9
    prompt_num_kv_heads: int = 3
    language_model_digest: str = ""
    # LoRA on the last ``lora_layers`` of the layers read; rank 0: none, the LM frozen whole.
    lora_rank: int = 0
    lora_alpha: float = 16.0
    lora_layers: int = 0

    def _validate_fields(self) -> None:
        super()._validate_fields()
        require_int(self.prompt_hidden_size, "prompt_hidden_size", 1)
        require_int(self.prompt_vocab_size, "prompt_vocab_size", 2)
        require_int(self.max_prompt_tokens, "max_prompt_tokens", 1, 8192)
        if self.max_agent_tokens != self.max_prompt_tokens:
            raise InvalidInputError(
                f"max_agent_tokens: expected max_prompt_tokens ({self.max_prompt_tokens}), "
                f"got {self.max_agent_tokens}: the forest reads one position per prompt token"
            )
        require_int(self.prompt_num_layers, "prompt_num_layers", 1)
        require_int(self.prompt_intermediate_size, "prompt_intermediate_size", 1)
        require_int(self.prompt_num_heads, "prompt_num_heads", 1)
        require_int(self.prompt_num_kv_heads, "prompt_num_kv_heads", 1)
        require_int(self.lora_rank, "lora_rank", 0, 1024)
        require_int(self.lora_layers, "lora_layers", 0, self.prompt_num_layers)
        if (self.lora_rank == 0) != (self.lora_layers == 0):
            raise InvalidInputError(
                f"lora_rank, lora_layers: expected both 0 (a frozen LM) or both positive, got "
                f"{self.lora_rank} and {self.lora_layers}"
            )
        if not (isinstance(self.lora_alpha, (int, float)) and 0 < self.lora_alpha < 1e4):
            raise InvalidInputError(
                f"lora_alpha: expected a number in (0, 1e4), got {self.lora_alpha!r}"
            )

    @classmethod
    def on_top_of(
        cls, language_model: LlamaModel, preset: str = "small", **overrides: Any
    ) -> PretrainedForestConfig:
        """The ``preset`` forest shape over ``language_model``'s width, vocabulary and layers
        (load it with ``load_language_model(dir, layers=L)`` to read its first L layers)."""
        lm = language_model.config
        max_prompt_tokens = overrides.pop("max_prompt_tokens", cls.max_prompt_tokens)
        fields = {
            **PRESETS[preset],
            "vocab_size": 2,  # the forest's own token table is unused: its input is the LM's
            "max_prompt_tokens": max_prompt_tokens,
            "max_agent_tokens": max_prompt_tokens,
            "prompt_hidden_size": lm.hidden_size,
            "prompt_vocab_size": lm.vocab_size,
            "prompt_num_layers": lm.num_hidden_layers,
            "prompt_intermediate_size": lm.intermediate_size,
            "prompt_num_heads": lm.num_attention_heads,
            "prompt_num_kv_heads": lm.num_key_value_heads or lm.num_attention_heads,
            # Agents per LM call: a chunk of ~80-token prompts through layers of width 576.
            "encoder_chunk_size": 32,
        }
        return cls(**{**fields, **overrides})


class PretrainedForest(ForestModel):
    """``ForestModel`` whose agents read text prompts through a frozen pretrained LM."""

    config_class = PretrainedForestConfig
    config: PretrainedForestConfig

    def __init__(self, config: PretrainedForestConfig, language_model: LlamaModel) -> None:
        super().__init__(config)
        lm = language_model.config
        expected = (config.prompt_hidden_size, config.prompt_vocab_size, config.prompt_num_layers)
        if (lm.hidden_size, lm.vocab_size, lm.num_hidden_layers) != expected:
            raise InvalidInputError(
                f"language model: the forest expects width {expected[0]}, vocabulary "
                f"{expected[1]} and {expected[2]} layers; the LM has {lm.hidden_size}, "
                f"{lm.vocab_size} and {lm.num_hidden_layers}"
            )
        self.encoder.positions_skip_padding = True
        self.prompt_norm = LlamaRMSNorm(config.prompt_hidden_size, eps=config.rms_norm_eps)
        self.prompt_proj = nn.Linear(config.prompt_hidden_size, config.hidden_size, bias=False)
        nn.init.normal_(self.prompt_proj.weight, std=config.initializer_range)
        self.language_model = language_model.requires_grad_(False).eval()
        if config.lora_rank > 0:
            self._add_lora(config)

    def _add_lora(self, config: PretrainedForestConfig) -> None:
        """LoRA adapters on every projection of the last ``lora_layers`` layers read; only they
        train in the LM. peft is imported here: a frozen-LM forest runs without it."""
        try:
            from peft import LoraConfig, inject_adapter_in_model
        except ImportError as err:
            raise MissingExtraError(
                "LoRA adapters need the peft package: run `make pretrained` "
                "(or pip install 'forest-redteam[pretrained]')"
            ) from err

        first = config.prompt_num_layers - config.lora_layers
        lora = LoraConfig(
            r=config.lora_rank,
            lora_alpha=config.lora_alpha,
            lora_dropout=0.0,
            target_modules=list(LORA_TARGETS),
            layers_to_transform=list(range(first, config.prompt_num_layers)),
            layers_pattern="layers",
        )
        inject_adapter_in_model(lora, self.language_model)

    @property
    def frozen_layers(self) -> int:
        """How many of the layers read carry no adapter (all of them without LoRA)."""
        return self.config.prompt_num_layers - self.config.lora_layers

    def train(self, mode: bool = True) -> PretrainedForest:
        """Train the forest; the frozen LM stays in eval mode."""
        super().train(mode)
        self.language_model.eval()
        return self

    def forest_state_dict(self) -> dict[str, torch.Tensor]:
        """The trained weights: everything but the frozen LM (its LoRA adapters included)."""
        return {
            name: tensor
            for name, tensor in self.state_dict().items()
            if not name.startswith("language_model.") or ".lora_" in name
        }

    def get_input_embeddings(self) -> nn.Embedding:
        return self.language_model.embed_tokens

    def prompt_states(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(a0) The LM's states for every prompt token, ``(n, T, H)`` (padding positions hold
        states too; ``summarize`` masks them)."""
        cfg = self.config
        if (input_ids is None) == (inputs_embeds is None):
            raise InvalidInputError("input_ids/inputs_embeds: expected exactly one of them")
        first = input_ids if input_ids is not None else inputs_embeds
        if not isinstance(first, torch.Tensor) or first.dim() < 2 or first.shape[0] < 1:
            raise InvalidInputError("input_ids: expected a tensor of shape (n, T) with n >= 1")
        n, t = int(first.shape[0]), int(first.shape[1])
        if not 1 <= t <= cfg.max_prompt_tokens:
            raise InvalidInputError(
                f"input_ids: expected 1 to {cfg.max_prompt_tokens} prompt tokens, got {t}"
            )
        if input_ids is not None:
            input_ids = check.integer_ids(input_ids, "input_ids", (n, t), cfg.prompt_vocab_size)
        else:
            shape = (n, t, cfg.prompt_hidden_size)
            inputs_embeds = check.finite_floats(inputs_embeds, "inputs_embeds", shape)
        mask = (
            torch.ones(n, t, dtype=torch.bool)
            if attention_mask is None
            else check.padding_mask(attention_mask, (n, t))
        )
        if not bool(mask.any(dim=1).all()):
            raise InvalidInputError("attention_mask: every agent needs at least one real token")
        states = []
        for start in range(0, n, cfg.encoder_chunk_size):
            part = slice(start, start + cfg.encoder_chunk_size)
            states.append(
                self.language_model(
                    input_ids=None if input_ids is None else input_ids[part],
                    inputs_embeds=None if inputs_embeds is None else inputs_embeds[part],
                    attention_mask=mask[part].long(),
                    use_cache=False,
                ).last_hidden_state  # (c, T, H)
            )
        return torch.cat(states)

    def _run_layers(
        self, hidden: torch.Tensor, attention_mask: torch.Tensor, layers: slice, final_norm: bool
    ) -> torch.Tensor:
        """The LM's decoder ``layers`` on ``hidden (n, T, H)``, as ``LlamaModel.forward`` runs
        them (causal and padding mask, rotary positions from 0): split in two, the pass gives the
        whole forward's bits (tests/forest/pretrained/test_adaptation.py)."""
        lm = self.language_model
        positions = torch.arange(hidden.shape[1]).unsqueeze(0)
        mask = create_causal_mask(
            config=lm.config,
            inputs_embeds=hidden,
            attention_mask=attention_mask.long(),
            past_key_values=None,
            position_ids=positions,
        )
        rotary = lm.rotary_emb(hidden, position_ids=positions)
        for layer in lm.layers[layers]:
            hidden = layer(
                hidden, attention_mask=mask, position_embeddings=rotary, position_ids=positions
            )
        return lm.norm(hidden) if final_norm else hidden

    def frozen_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The hidden states ``(n, T, H)`` after the layers without adapters: a function of the
        prompt alone, whatever the adapters learn."""
        embeds = self.language_model.embed_tokens(input_ids)
        return self._run_layers(embeds, attention_mask, slice(0, self.frozen_layers), False)

    def adapted_states(self, frozen: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(a0) from ``frozen_states``: the adapted layers, then the LM's final norm."""
        layers = slice(self.frozen_layers, self.config.prompt_num_layers)
        return self._run_layers(frozen, attention_mask, layers, True)

    def summarize(
        self,
        prompt_states: torch.Tensor,
        attention_mask: torch.Tensor | None,
        role_ids: torch.Tensor | None,
        memory: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(a1) Summary tokens ``(n, d)`` from prompt states ``(n, T, H)``."""
        first = prompt_states if isinstance(prompt_states, torch.Tensor) else torch.empty(0)
        n, t = (int(first.shape[0]), int(first.shape[1])) if first.dim() == 3 else (0, 0)
        states = check.finite_floats(
            prompt_states, "prompt_states", (n, t, self.config.prompt_hidden_size)
        )
        positions = self.prompt_proj(self.prompt_norm(states))  # (n, T, d)
        a = check.agent_inputs(self.config, None, positions, attention_mask, role_ids, memory)
        return self.encoder(None, a.inputs_embeds, a.token_mask, a.role_ids, a.memory)

    def encode(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        role_ids: torch.Tensor | None = None,
        memory: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(a) Summary tokens ``(n, d)`` from prompt token ids ``(n, T)`` or LM token
        embeddings ``inputs_embeds (n, T, H)``."""
        states = self.prompt_states(input_ids, attention_mask, inputs_embeds)
        return self.summarize(states, attention_mask, role_ids, memory)
