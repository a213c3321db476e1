"""Checks on a round's tensors before they reach the model; each failure names the argument.

The model is the target of attacks that hand it crafted tensors, so a bad shape, dtype or value
must fail loudly here rather than broadcast silently or index out of range deep inside a layer.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from forest.errors import InvalidInputError
from forest.model.config import ForestConfig


def _tensor(value: object, name: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise InvalidInputError(f"{name}: expected a torch.Tensor, got {type(value).__name__}")
    return value


def _shape(x: torch.Tensor, name: str, shape: tuple[int, ...]) -> None:
    if tuple(x.shape) != shape:
        raise InvalidInputError(f"{name}: expected shape {shape}, got {tuple(x.shape)}")


def integer_ids(value: object, name: str, shape: tuple[int, ...], high: int | None) -> torch.Tensor:
    """An integer tensor of ``shape`` with values in [0, high) (any non-negative if no high)."""
    x = _tensor(value, name)
    _shape(x, name, shape)
    if x.dtype.is_floating_point or x.dtype.is_complex or x.dtype == torch.bool:
        raise InvalidInputError(f"{name}: expected an integer dtype, got {x.dtype}")
    if x.numel():
        lo, hi = int(x.min()), int(x.max())
        top = "inf" if high is None else high - 1
        if lo < 0 or (high is not None and hi >= high):
            raise InvalidInputError(f"{name}: expected values in [0, {top}], got [{lo}, {hi}]")
    return x.long()


def finite_floats(value: object, name: str, shape: tuple[int, ...]) -> torch.Tensor:
    """A floating tensor of ``shape`` with no NaN or inf (huge finite values are allowed)."""
    x = _tensor(value, name)
    _shape(x, name, shape)
    if not x.dtype.is_floating_point:
        raise InvalidInputError(f"{name}: expected a floating dtype, got {x.dtype}")
    if not bool(torch.isfinite(x.detach()).all()):
        raise InvalidInputError(f"{name}: expected finite values, got NaN or inf")
    return x


def padding_mask(value: object, shape: tuple[int, ...]) -> torch.Tensor:
    """``attention_mask``: bool, or integers 0/1 as Hugging Face tokenizers return it."""
    x = _tensor(value, "attention_mask")
    _shape(x, "attention_mask", shape)
    if x.dtype == torch.bool:
        return x
    if x.dtype.is_floating_point or x.dtype.is_complex or not bool(((x == 0) | (x == 1)).all()):
        raise InvalidInputError(f"attention_mask: expected bool or 0/1 integers, got {x.dtype}")
    return x.bool()


def aggregation_weights(value: object | None, n: int, like: torch.Tensor) -> torch.Tensor:
    """Per-agent weights in [0, 1]; ``None`` means every agent counts fully."""
    if value is None:
        return torch.ones(n, dtype=like.dtype, device=like.device)
    w = finite_floats(value, "aggregation_weights", (n,))
    if w.numel() and (bool((w < 0).any()) or bool((w > 1).any())):
        lo, hi = float(w.min()), float(w.max())
        raise InvalidInputError(f"aggregation_weights: expected values in [0, 1], got [{lo}, {hi}]")
    return w.to(like.dtype)


class AgentInputs(NamedTuple):
    """The encoder's validated inputs; exactly one of ``input_ids`` and ``inputs_embeds``."""

    n: int
    input_ids: torch.Tensor | None  # (n, T) long
    inputs_embeds: torch.Tensor | None  # (n, T, d)
    token_mask: torch.Tensor  # (n, T) bool, True = real token
    role_ids: torch.Tensor  # (n,) long
    memory: torch.Tensor | None  # (n, d)


def agent_inputs(
    config: ForestConfig,
    input_ids: object | None,
    inputs_embeds: object | None,
    attention_mask: object | None,
    role_ids: object,
    memory: object | None,
) -> AgentInputs:
    """Validate the encoder's inputs.

    Exactly one of ``input_ids (n, T)`` and ``inputs_embeds (n, T, d)`` is given, with
    1 <= T <= max_agent_tokens; a missing ``attention_mask`` means no padding.
    """
    if (input_ids is None) == (inputs_embeds is None):
        raise InvalidInputError("input_ids/inputs_embeds: expected exactly one of them")
    d = config.hidden_size
    if input_ids is not None:
        first = _tensor(input_ids, "input_ids")
        if first.dim() != 2:
            raise InvalidInputError(f"input_ids: expected shape (n, T), got {tuple(first.shape)}")
    else:
        first = _tensor(inputs_embeds, "inputs_embeds")
        if first.dim() != 3 or first.shape[-1] != d:
            raise InvalidInputError(
                f"inputs_embeds: expected shape (n, T, {d}), got {tuple(first.shape)}"
            )
    n, t = int(first.shape[0]), int(first.shape[1])
    if n < 1:
        raise InvalidInputError("input_ids: expected at least one agent, got 0")
    if not 1 <= t <= config.max_agent_tokens:
        raise InvalidInputError(
            f"input_ids: expected 1 to {config.max_agent_tokens} tokens per agent, got {t}"
        )
    ids = embeds = None
    if input_ids is not None:
        ids = integer_ids(input_ids, "input_ids", (n, t), config.vocab_size)
    else:
        embeds = finite_floats(inputs_embeds, "inputs_embeds", (n, t, d))
    mask = (
        torch.ones(n, t, dtype=torch.bool, device=first.device)
        if attention_mask is None
        else padding_mask(attention_mask, (n, t))
    )
    roles = integer_ids(role_ids, "role_ids", (n,), config.num_roles)
    mem = None if memory is None else finite_floats(memory, "memory", (n, d))
    return AgentInputs(n, ids, embeds, mask, roles, mem)


def sybils(
    config: ForestConfig, summaries: object | None, tree_ids: object | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fake agents' summaries ``(s, d)`` and trees ``(s,)``: both or neither."""
    if summaries is None or tree_ids is None:
        raise InvalidInputError("sybil_summaries and sybil_tree_ids: pass both or neither")
    s = summaries.shape[0] if isinstance(summaries, torch.Tensor) else 0
    fakes = finite_floats(summaries, "sybil_summaries", (s, config.hidden_size))
    trees = integer_ids(tree_ids, "sybil_tree_ids", (s,), None)
    return fakes, trees
