"""The profiler's bookkeeping: a phase inside another is counted once, in the inner one; an
operation that calls itself is timed once, from its outermost call. A fake clock stands in for
the wall (the figures are the script's to measure, not a test's)."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "experiments" / "profile_suite.py"
spec = importlib.util.spec_from_file_location("profile_suite", SCRIPT)
profile_suite = importlib.util.module_from_spec(spec)
spec.loader.exec_module(profile_suite)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_nested_phases_are_exclusive_and_operations_count_their_outermost_call(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(profile_suite.time, "perf_counter", clock)
    timer = profile_suite.Timer()

    def twin():
        clock.now += 2.0

    def plan():
        clock.now += 1.0
        timed_twin()  # the oracle plays twins: 2 s of twins inside the plan
        clock.now += 3.0

    def encoder(depth):
        clock.now += 1.0
        if depth:
            timed_encoder(depth - 1)

    timed_twin = timer.in_phase("twins", twin)
    timed_plan = timer.in_phase("attack plan", plan)
    timed_encoder = timer.in_operation("encoder", encoder)
    timed_plan()
    timed_encoder(2)
    assert timer.phase == {"attack plan": 4.0, "twins": 2.0}
    assert timer.operation == {"encoder": 3.0}
