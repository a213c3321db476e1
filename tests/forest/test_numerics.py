"""The test process runs numpy's and torch's AVX2 kernels, the ones the golden outputs and the
shipped checkpoints were produced with (forest/numerics.py): on an AVX-512 machine unpinned,
the collusion golden test fails in the 16th digit."""

import os

import numpy as np
import torch
from threadpoolctl import threadpool_info

from forest.numerics import KERNEL_PINS

AVX512_OPENBLAS_CORES = {"skylakex", "cooperlake", "sapphirerapids"}


def test_every_kernel_pin_is_set_in_this_process():
    assert all(os.environ.get(name) for name in KERNEL_PINS)


def test_torch_runs_no_avx512_kernel():
    assert "AVX512" not in torch.backends.cpu.get_cpu_capability()


def test_numpy_dispatches_no_avx512_loop():
    umath = np._core._multiarray_umath
    # The dispatch targets it was built with (X86_V3, X86_V4, AVX512_ICL, ...): one is used
    # where the machine has it and no variable disabled it.
    active = [target for target in umath.__cpu_dispatch__ if umath.__cpu_features__.get(target)]
    assert not [target for target in active if "AVX512" in target or target == "X86_V4"]


def test_numpys_openblas_runs_no_avx512_core():
    cores = {
        info.get("architecture", "").lower()
        for info in threadpool_info()
        if info.get("internal_api") == "openblas"
    }
    assert cores and not cores & AVX512_OPENBLAS_CORES
