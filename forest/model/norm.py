"""An RMS norm that cannot overflow, for every place an adversary controls the input's scale.

Attacks write to the memory vector and the summary tokens with arbitrary norms. A plain RMS norm
squares its input, so a vector with entries near 1e20 already overflows float32 to inf and the
forest's outputs turn to NaN, which would make "blast radius" a property of float32 rather than of
the model. Dividing by the largest magnitude first keeps every intermediate in [-1, 1].
"""

from __future__ import annotations

import torch
from torch import nn


class StableRMSNorm(nn.Module):
    """``weight * x / rms(x)``, computed as ``y / rms(y)`` with ``y = x / max|x|``."""

    def __init__(self, hidden_size: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tiny = torch.finfo(x.dtype).tiny
        y = x / x.abs().amax(-1, keepdim=True).clamp_min(tiny)
        # y no longer depends on the scale of x, and mean(y^2) >= 1/hidden_size dwarfs eps.
        inv_rms = torch.rsqrt(y.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return self.weight * y * inv_rms
