"""The system under test: agent economies, the Thousand-Token Forest model, router, training."""

from forest.errors import ConfigError, ForestError, InvalidInputError, UnknownNameError

__all__ = ["ConfigError", "ForestError", "InvalidInputError", "UnknownNameError"]
