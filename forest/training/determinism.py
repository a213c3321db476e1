"""Training's thread and kernel settings, restored afterwards.

Every trainer runs torch on a fixed number of threads with deterministic algorithms, so a
checkpoint's bytes depend on its config alone; the caller's settings come back on exit, since a
benchmark or a test may train in the middle of its own run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def deterministic_threads(threads: int) -> Iterator[None]:
    """Torch on ``threads`` threads with deterministic algorithms inside the block."""
    before, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    try:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(True)
        yield
    finally:
        torch.set_num_threads(before)
        torch.use_deterministic_algorithms(deterministic)
