"""Interval bound propagation through the forest's layers: boxes in, boxes out, always sound.

A box is a pair ``(low, high)`` of tensors of one shape. Each function returns a box that holds
the layer's output for every input in the input box (Gowal et al. 2018's IBP), exactly as the
forest computes the layer (``forest/model``), so that a certificate built from them can only err
on the side of refusing. Everything runs in float64: the certificate compares bounds with the
float32 forest's decisions, and a bound lost to rounding would be a false guarantee.
"""

from __future__ import annotations

import math

import torch
from torch import nn

Box = tuple[torch.Tensor, torch.Tensor]

SILU_MINIMUM_AT = -1.2784645427610738  # argmin of x * sigmoid(x): SiLU falls, then rises


def point(x: torch.Tensor) -> Box:
    return x, x


def linear(box: Box, layer: nn.Linear) -> Box:
    """``layer`` over a box: centre through the map, radius through its absolute value."""
    weight = layer.weight.detach().double()
    centre, radius = (box[0] + box[1]) / 2, (box[1] - box[0]) / 2
    mid = centre @ weight.T
    spread = radius @ weight.abs().T
    if layer.bias is not None:
        mid = mid + layer.bias.detach().double()
    return mid - spread, mid + spread


def silu(box: Box) -> Box:
    """SiLU is not monotone: below ``SILU_MINIMUM_AT`` it falls, so a box across that point has
    the function's minimum as its lower end."""
    low, high = box
    f_low, f_high = nn.functional.silu(low), nn.functional.silu(high)
    floor = nn.functional.silu(torch.tensor(SILU_MINIMUM_AT, dtype=low.dtype))
    across = (low < SILU_MINIMUM_AT) & (high > SILU_MINIMUM_AT)
    return torch.where(across, floor, torch.minimum(f_low, f_high)), torch.maximum(f_low, f_high)


def rms_norm(box: Box, norm: nn.Module) -> Box:
    """``forest.model.norm.StableRMSNorm`` over a box (last dimension).

    The stable norm computes ``w * x / sqrt(mean(x^2) + eps * max|x|^2)``: the denominator is
    bounded from the smallest and largest squares in the box, and each coordinate's quotient
    from its two ends. Whatever the input, ``|x_j| / rms(x) <= sqrt(d)``, which also bounds
    boxes that hold the zero vector.
    """
    low, high = box
    weight = norm.weight.detach().double()
    eps = norm.variance_epsilon
    d = low.shape[-1]
    crosses = (low <= 0) & (high >= 0)
    square_low = torch.where(crosses, torch.zeros_like(low), torch.minimum(low**2, high**2))
    square_high = torch.maximum(low**2, high**2)
    largest_low = square_low.amax(-1, keepdim=True)
    largest_high = square_high.amax(-1, keepdim=True)
    denominator_low = torch.sqrt(square_low.mean(-1, keepdim=True) + eps * largest_low)
    denominator_high = torch.sqrt(square_high.mean(-1, keepdim=True) + eps * largest_high)
    inverse = (1 / denominator_high, 1 / denominator_low.clamp_min(1e-300))
    corners = torch.stack([end * inv for end in (low, high) for inv in inverse])
    ceiling = math.sqrt(d)
    q_low = corners.amin(0).clamp(-ceiling, ceiling)
    q_high = corners.amax(0).clamp(-ceiling, ceiling)
    return _scale(q_low, q_high, weight)


def _scale(low: torch.Tensor, high: torch.Tensor, factor: torch.Tensor) -> Box:
    """``factor * x`` for a fixed ``factor`` of either sign."""
    a, b = factor * low, factor * high
    return torch.minimum(a, b), torch.maximum(a, b)


def dot(box: Box, fixed: torch.Tensor, equation: str) -> Box:
    """``einsum(equation, x, fixed)`` for ``x`` in the box (bilinear with one side fixed)."""
    centre, radius = (box[0] + box[1]) / 2, (box[1] - box[0]) / 2
    mid = torch.einsum(equation, centre, fixed)
    spread = torch.einsum(equation, radius, fixed.abs())
    return mid - spread, mid + spread


def softmax_weights(scores: Box) -> Box:
    """Bounds on each softmax weight (last dimension) when each score lies in its box: a weight
    is smallest when its own score is lowest and every other is highest."""
    low, high = scores
    shift = high.amax(-1, keepdim=True)
    e_low, e_high = torch.exp(low - shift), torch.exp(high - shift)
    sum_low, sum_high = e_low.sum(-1, keepdim=True), e_high.sum(-1, keepdim=True)
    p_low = e_low / (e_low + (sum_high - e_high).clamp_min(0.0))
    p_high = e_high / (e_high + (sum_low - e_low).clamp_min(0.0)).clamp_min(1e-300)
    return p_low.clamp(0.0, 1.0), p_high.clamp(0.0, 1.0)


def convex_combination(weights: Box, values: Box) -> Box:
    """``sum_k p_k v_k`` (last dimension of both) over weights ``p`` in their box that sum to
    one and values ``v`` in theirs: the exact extremes of that linear programme (fill the
    lowest values first for the lower end, the highest for the upper; Dantzig's greedy)."""
    p_low, p_high = weights
    spare = (1.0 - p_low.sum(-1, keepdim=True)).clamp_min(0.0)
    return (
        _greedy(p_low, p_high, values[0], spare, descending=False),
        _greedy(p_low, p_high, values[1], spare, descending=True),
    )


def _greedy(
    p_low: torch.Tensor,
    p_high: torch.Tensor,
    values: torch.Tensor,
    spare: torch.Tensor,
    descending: bool,
) -> torch.Tensor:
    p_low, p_high, values = torch.broadcast_tensors(p_low, p_high, values)
    order = torch.argsort(values, dim=-1, descending=descending)
    room = (p_high - p_low).clamp_min(0.0).gather(-1, order)
    before = room.cumsum(-1) - room
    extra = torch.minimum((spare - before).clamp_min(0.0), room)
    return (p_low.gather(-1, order) + extra).mul(values.gather(-1, order)).sum(-1)
