"""The same CPU kernels on every x86 machine, so that numbers and checkpoints do not depend on it.

torch, numpy and numpy's OpenBLAS choose their kernels by the CPU's instruction set, and a sum
taken in another order differs in its last bits. The golden outputs in ``tests/golden``, the
shipped checkpoints and the README's figures were produced with AVX2 kernels; on an AVX-512
machine, unpinned, a collusion run's scores moved in the 16th digit, a PGD check's harm by 20%
and the adaptation of the forest on SmolLM2 came out other bytes (its training losses apart
from step 6 on). So, unless the user has set them, these variables ask every library for its
AVX2 kernels (or the machine's best below them). numpy and OpenBLAS read them when numpy is
imported, torch when it runs its first kernel: ``forest/__init__.py`` sets them before either.
"""

from __future__ import annotations

import os

KERNEL_PINS = {
    "ATEN_CPU_CAPABILITY": "avx2",  # torch's own vectorised kernels
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # oneDNN, behind some of torch's operators
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",  # numpy's dispatched loops
    "OPENBLAS_CORETYPE": "Haswell",  # numpy's BLAS: the AVX2 kernels
}


def pin_cpu_kernels() -> None:
    """Ask for the AVX2 kernels wherever the user has not chosen otherwise."""
    for name, value in KERNEL_PINS.items():
        os.environ.setdefault(name, value)
