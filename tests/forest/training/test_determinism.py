import pytest
import torch

from forest.training.determinism import deterministic_threads


def test_deterministic_threads_sets_then_restores_the_callers_settings():
    before = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    threads = 1 if before[0] != 1 else 2
    with deterministic_threads(threads):
        assert torch.get_num_threads() == threads
        assert torch.are_deterministic_algorithms_enabled()
    assert (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()) == before


def test_deterministic_threads_restores_after_an_exception():
    before = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    threads = 1 if before[0] != 1 else 2
    with pytest.raises(RuntimeError), deterministic_threads(threads):
        raise RuntimeError("a trainer fails midway")
    assert (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()) == before
