"""The system under test: agent economies, the Thousand-Token Forest model, router, training."""

from forest.numerics import pin_cpu_kernels

pin_cpu_kernels()  # before numpy or torch computes anything: see forest/numerics.py

from forest.errors import ConfigError, ForestError, InvalidInputError, UnknownNameError  # noqa: E402

__all__ = ["ConfigError", "ForestError", "InvalidInputError", "UnknownNameError"]
