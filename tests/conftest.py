"""Shared test settings: hypothesis profiles (`ci` for every run, `fuzz` for `make fuzz`)."""

import os
import sys
from pathlib import Path

import forest  # noqa: F401  (first: it pins the CPU kernels numpy and torch will use)

# isort: split
import torch
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "fuzz", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
# Test modules import their example budgets from tests/support/budget.py. Only that folder goes
# on the path: tests/ itself would make tests/attacks a namespace package that shadows attacks.
sys.path.append(str(Path(__file__).parent / "support"))
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

# Tests run many small tensor ops: one thread avoids oversubscribing the two cores (and its
# spin-waits) when anything else is running, and keeps float reductions in one fixed order.
torch.set_num_threads(1)
