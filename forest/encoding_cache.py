"""Agents encoded once: the summaries of agent rows already seen, keyed by each row's exact
inputs (its tokens, attention mask, role and memory).

Why: the encoder is most of a round's cost, and a red-team suite plays each seed many times
over (the clean twin, the defended twins, every attack under every defense, each with its
replays). An agent's summary depends on nothing but its own row: its tokens, its role and its
memory, which is its own previous summary. So in an attacked episode every agent the poison
has not reached yet, in the attack's first rounds nearly all of them, reads exactly what it
read in the twin and gets exactly the twin's summary; only the rows not seen before need the
encoder.

That is exact only if a row's summary does not depend on which other rows share its batch.
Matrix kernels do not promise it: on this project's CPU a batch of 1-3 rows rounds
differently from a batch of 128. So no chunk is encoded with fewer than ``MIN_CHUNK`` rows
(the token forest's encoder pads its own chunks, ``forest.model.encoder``; rows picked here
are padded the same way for any other encoder), and the cache checks, on the first round it
encodes without memory and on the first with, that a subset of rows reproduces the bits the
whole round got. Where it does not, the cache switches itself off and encodes every round
whole: slower, never different.

The cached summaries belong to the weights they were computed with. A cache notices the
weights moving in place (an optimiser step) or being replaced (``model.to``), but not every
edit (``p.data`` writes, fused optimisers), so a policy's own cache lives for one round, as
the encodings it replaces did, and only the red-team harness, whose forest never trains,
shares one across episodes (``shared_cache``).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from forest.model.encoder import MIN_CHUNK

MAX_ROWS = 100_000  # about 200 MB at d = 128 (a row and its key take about 2 KB)
KEYS = ("input_ids", "attention_mask", "role_ids")


def _bytes(tensor: torch.Tensor) -> np.ndarray:
    """(n, ...) -> (n, bytes) uint8: each row's exact contents."""
    rows = tensor.detach().cpu().contiguous().numpy()
    return rows.reshape(rows.shape[0], -1).view(np.uint8)


def row_keys(inputs: Mapping[str, torch.Tensor | None]) -> list[bytes]:
    """One key per agent: its tokens, mask, role and memory, byte for byte (no memory yet and a
    memory of zeros are different keys)."""
    parts = [_bytes(inputs[k]) for k in KEYS]  # type: ignore[arg-type]
    memory = inputs["memory"]
    n = parts[0].shape[0]
    flag = np.full((n, 1), memory is None, dtype=np.uint8)
    parts.append(flag if memory is None else np.concatenate([flag, _bytes(memory)], axis=1))
    return [row.tobytes() for row in np.concatenate(parts, axis=1)]


def _chunk_size(model: nn.Module) -> int | None:
    return getattr(model.config, "encoder_chunk_size", None)


def encode_rows(
    model: nn.Module, inputs: Mapping[str, torch.Tensor | None], rows: np.ndarray
) -> torch.Tensor:
    """Summaries ``(len(rows), d)`` of the given rows, with no chunk shorter than
    ``MIN_CHUNK`` (padded with copies of the last row, whose summaries are dropped)."""
    chunk = _chunk_size(model) or len(rows)
    short = len(rows) % chunk
    pad = MIN_CHUNK - short if 0 < short < MIN_CHUNK else 0
    index = torch.from_numpy(np.concatenate([rows, np.repeat(rows[-1:], pad)]))
    picked = [
        None if inputs[k] is None else inputs[k].index_select(0, index.to(inputs[k].device))  # type: ignore[union-attr]
        for k in (*KEYS, "memory")
    ]
    return model.encode(*picked)[: len(rows)]


class EncodingCache:
    """Summaries of the rows one model has encoded, shared by every policy on that model."""

    def __init__(self, max_rows: int = MAX_ROWS) -> None:
        self.max_rows = max_rows
        self._rows: dict[bytes, torch.Tensor] = {}  # least recently used first
        self._weights: tuple[tuple[int, int], ...] = ()
        # Whether rows encoded apart reproduce a whole round's bits, checked once without memory
        # (False) and once with (True), on these weights.
        self._checks: dict[bool, bool] = {}
        self.encoded_rows = 0  # rows the encoder ran on, and rows it was spared (benchmarks)
        self.reused_rows = 0

    @property
    def exact(self) -> bool | None:
        """None until checked; False once a check failed (the cache then encodes whole
        rounds)."""
        if False in self._checks.values():
            return False
        return True if self._checks else None

    def clear(self) -> None:
        """Forget every row: call after changing the model's weights by any means."""
        self._rows.clear()

    def _forget_if_trained(self, model: nn.Module) -> None:
        """Training edits the weights in place (and moving the model replaces them): the
        summaries seen so far belong to the old weights."""
        weights = tuple(
            # An inference tensor cannot be trained in place, and keeps no version count.
            (p.data_ptr(), 0 if p.is_inference() else p._version)
            for p in model.parameters()
        )
        if weights != self._weights:
            self.clear()
            self._checks.clear()
            self._weights = weights

    def encode(self, model: nn.Module, inputs: Mapping[str, torch.Tensor | None]) -> torch.Tensor:
        """Summaries ``(n, d)`` of ``inputs`` (``ForestPolicy.model_inputs``): a new tensor,
        which the caller may edit."""
        self._forget_if_trained(model)
        # A plain tensor even inside ``decide``'s inference mode: an attack differentiates
        # through it.
        with torch.inference_mode(False), torch.no_grad():
            return self._encode(model, inputs)

    def _encode(self, model: nn.Module, inputs: Mapping[str, torch.Tensor | None]) -> torch.Tensor:
        keys = row_keys(inputs)
        n = len(keys)
        if self.exact is False:
            self.encoded_rows += n
            return encode_rows(model, inputs, np.arange(n))
        found = [self._rows.get(k) for k in keys]
        missing = np.array([i for i, row in enumerate(found) if row is None], dtype=np.int64)
        self.reused_rows += n - missing.size
        self.encoded_rows += missing.size
        for i, row in enumerate(found):  # a hit is used again: it goes to the back of the queue
            if row is not None:
                self._rows[keys[i]] = self._rows.pop(keys[i])
        if missing.size:
            fresh = encode_rows(model, inputs, missing)
            with_memory = inputs["memory"] is not None
            if with_memory not in self._checks and missing.size >= 2:
                self._checks[with_memory] = self._reproduces(model, inputs, missing, fresh)
                if not self._checks[with_memory]:
                    self._rows.clear()  # rows it stored before may be as wrong
                    return fresh if missing.size == n else encode_rows(model, inputs, np.arange(n))
            for j, i in enumerate(missing.tolist()):
                found[i] = fresh[j]
                self._rows[keys[i]] = fresh[j]
            while len(self._rows) > self.max_rows:
                del self._rows[next(iter(self._rows))]
        return torch.stack(found)  # type: ignore[arg-type]

    @staticmethod
    def _reproduces(
        model: nn.Module,
        inputs: Mapping[str, torch.Tensor | None],
        rows: np.ndarray,
        summaries: torch.Tensor,
    ) -> bool:
        """Whether a scattered few of ``rows``, encoded apart in a short (padded) chunk and in
        a longer one, match the bits ``summaries`` got in their batch."""
        at = np.arange(0, rows.size, 3) if rows.size > 2 else np.arange(rows.size)
        return all(
            torch.equal(encode_rows(model, inputs, rows[part]), summaries[part])
            for part in (at[:1], at[:5], at[: MIN_CHUNK + 5])
        )


_CACHES: weakref.WeakKeyDictionary[nn.Module, EncodingCache] = weakref.WeakKeyDictionary()


def shared_cache(model: nn.Module) -> EncodingCache:
    """The cache every policy on ``model`` may share (the red-team runner's): freed with it."""
    if model not in _CACHES:
        _CACHES[model] = EncodingCache()
    return _CACHES[model]
