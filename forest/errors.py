"""The project's own errors.

All of them subclass ``ValueError`` so that callers who only know the standard library can still
catch bad input, and the CLIs can turn any of them into a one-line message and exit code 2.
"""


class ForestError(Exception):
    """Base class for every error this project raises on purpose."""


class InvalidInputError(ForestError, ValueError):
    """An argument (actions, messages, observations, ...) has the wrong shape, dtype or range."""


class ConfigError(InvalidInputError):
    """A config field is missing, of the wrong type or out of its allowed range."""


class SolverError(ForestError, ValueError):
    """A numerical solve (e.g. a market's Nash equilibrium) did not converge for these inputs."""


class UnknownNameError(InvalidInputError):
    """A name looked up in a registry (economy, attack, defense, preset) does not exist."""
