"""Where and in what precision the forest runs, and what a lower precision does to its play.

float32 is the forest's precision everywhere: it is trained, shipped and attacked in it, and
every golden figure is float32. ``bf16`` is an opt-in for throughput measurements: the forest's
weights stay float32 and ``torch.autocast`` runs its matrix products in bfloat16, so the same
checkpoint serves both and their decisions can be compared on identical inputs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch

from forest.errors import InvalidInputError
from forest.evaluation import evaluate_forest
from forest.policy import ForestPolicy

REFERENCE = "fp32"
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
DEVICES = ("cpu", "cuda")


def require_device(device: str) -> None:
    """Refuse, in one line, a device this machine cannot run the forest on."""
    if device not in DEVICES:
        raise InvalidInputError(f"--device: expected one of {DEVICES}, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError(
            f"--device cuda: torch {torch.__version__} sees no CUDA GPU on this machine "
            "(torch.cuda.is_available() is False); run it where a GPU and a CUDA build of torch are"
        )


@contextlib.contextmanager
def running_in(dtype: str, device: str) -> Iterator[None]:
    """The forest's forward passes inside run in ``dtype`` on ``device`` (``fp32``: as they are)."""
    if dtype not in DTYPES:
        raise InvalidInputError(f"--dtype: expected one of {sorted(DTYPES)}, got {dtype!r}")
    if dtype == REFERENCE:
        yield
        return
    with torch.autocast(device, dtype=DTYPES[dtype]):
        yield


def action_agreement(actions: np.ndarray, reference: np.ndarray) -> float:
    """Share of agents whose action equals the reference's, in [0, 1]."""
    if actions.shape != reference.shape or actions.ndim != 1 or not actions.size:
        raise InvalidInputError(
            f"actions: expected two equal non-empty (n,) arrays, got {actions.shape} "
            f"and {reference.shape}"
        )
    return float(np.mean(actions == reference))


def play_effect(
    policy: ForestPolicy,
    dtype: str,
    economy_name: str,
    n_agents: int,
    rounds: int,
    seeds: int,
) -> dict[str, dict[str, float]]:
    """Clean (attack-free) episodes of ``policy`` in float32 and in ``dtype``, the same seeds:
    mean task completion and mean welfare (the economy's own, so harm-free) of each."""
    out = {}
    for name in dict.fromkeys((REFERENCE, dtype)):
        with running_in(name, policy.model.device.type):
            episodes = evaluate_forest(policy, economy_name, seeds, rounds, n_agents)
        out[name] = {
            "task_completion": float(np.mean([e.task_completion for e in episodes])),
            "welfare": float(np.mean([e.metrics["welfare"] for e in episodes])),
        }
    return out
