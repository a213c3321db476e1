"""Checks shared by configs; each failure names the argument and what it expected."""

from __future__ import annotations

from typing import Any

import numpy as np

from forest.errors import ConfigError, InvalidInputError


def require(condition: bool, field: str, expected: str, got: Any) -> None:
    """Raise a ConfigError naming ``field`` unless ``condition`` holds."""
    if not condition:
        raise ConfigError(f"{field}: expected {expected}, got {got!r}")


def require_int(value: Any, field: str, low: int | None = None, high: int | None = None) -> None:
    """A config integer (bools are not integers here) within [low, high]."""
    is_int = isinstance(value, int | np.integer) and not isinstance(value, bool)
    bounds = f" in [{low if low is not None else '-inf'}, {high if high is not None else 'inf'}]"
    ok = is_int and (low is None or value >= low) and (high is None or value <= high)
    require(ok, field, "an integer" + bounds, value)


def require_float(
    value: Any,
    field: str,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
) -> None:
    """A finite config number within [low, high] (or (low, high] with ``low_open``)."""
    is_num = isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool
    )
    ok = is_num and bool(np.isfinite(value))
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value <= high
    left = "(" if low_open else "["
    bounds = (
        f" in {left}{low if low is not None else '-inf'}, {high if high is not None else 'inf'}]"
    )
    require(ok, field, "a finite number" + bounds, value)


def as_int_array(values: Any, name: str, shape: tuple[int, ...], low: int, high: int) -> np.ndarray:
    """Validate an integer array argument and return it as int64; never clips or casts silently.

    Rejects NaN/inf, non-integer dtypes (floats, bools, objects), the wrong shape and values
    outside [low, high], each with a message that names ``name`` and what was expected.
    """
    arr = np.asarray(values)
    if arr.shape != shape:
        raise InvalidInputError(f"{name}: expected shape {shape}, got {arr.shape}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise InvalidInputError(f"{name}: expected finite integers, got NaN or inf")
    if arr.dtype.kind not in "iu":
        raise InvalidInputError(f"{name}: expected an integer dtype, got {arr.dtype}")
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < low or hi > high:
            raise InvalidInputError(
                f"{name}: expected values in [{low}, {high}], got values in [{lo}, {hi}]"
            )
    return arr.astype(np.int64, copy=False)
