"""The red-team harness: suites, counterfactual runner, propagation metrics, tracking, reports.

As a library (``redteam.api``): ``build_suite`` from the section dataclasses (or
``load_suite`` from a TOML file), ``run`` it, and read ``Results`` as DataFrames; or play your
own episodes and ``measure`` them against their twins (``redteam.measurement``). Names load on
first use, so that the command line starts without importing the engine.
"""

from __future__ import annotations

import forest  # noqa: F401  (first: it pins the CPU kernels, forest/numerics.py)

# isort: split

import importlib
from typing import Any

_EXPORTS = {
    "build_suite": "redteam.api",
    "run": "redteam.api",
    "Results": "redteam.api",
    "load_suite": "redteam.suite",
    "Suite": "redteam.suite",
    "SuiteError": "redteam.suite",
    "SuiteSettings": "redteam.suite_sections",
    "EconomyEntry": "redteam.suite_sections",
    "AttackEntry": "redteam.suite_sections",
    "DefenseEntry": "redteam.suite_sections",
    "MetricSettings": "redteam.suite_sections",
    "CellRunner": "redteam.runner",
    "CellResult": "redteam.metrics",
    "measure": "redteam.measurement",
    "Measurement": "redteam.measurement",
    "EpisodeTrace": "redteam.measurement",
    "PairedDifference": "redteam.intervals",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'redteam' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
