"""Example budgets of the property tests.

A property that sets its own ``max_examples`` (because each example is slow) would otherwise
keep that budget under ``make fuzz`` too. ``examples(n)`` is ``n`` in the ``ci`` profile and
the ``fuzz`` profile's budget (2,000) when fuzzing, so that every property gets fuzzed;
``examples(n, fuzz=k)`` caps it at ``k`` for properties whose every example runs an attack's
optimisation on the forest (seconds each).
"""

import os

from hypothesis import settings


def examples(ci: int, fuzz: int | None = None) -> int:
    if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz":
        return max(ci, settings.default.max_examples if fuzz is None else fuzz)
    return ci
