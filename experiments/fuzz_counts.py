"""How many examples each property saw in a fuzzing run (issue #9).

    python experiments/fuzz_counts.py results/fuzz-statistics.txt [--json-out PATH]

Reads the statistics pytest prints with ``--hypothesis-show-statistics`` (``make fuzz`` saves
them) and prints, per area of the code, how many properties ran, how many reached 2,000 passing
examples, the fewest any reached, and every failure.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

TARGET = 2000
_TEST = re.compile(r"^(tests/\S+?)::(\S+?):\s*$")
_COUNTS = re.compile(r"- (\d+) passing, (\d+) failing, and (\d+) invalid")


def parse(text: str) -> dict[str, dict[str, int]]:
    """{'file::test': {'passing': n, 'failing': n}} summed over hypothesis's phases."""
    counts: dict[str, dict[str, int]] = {}
    current = None
    for line in text.splitlines():
        test = _TEST.match(line.strip())
        if test:
            current = f"{test.group(1)}::{test.group(2)}"
            counts[current] = {"passing": 0, "failing": 0}
            continue
        found = _COUNTS.search(line)
        if found and current is not None:
            counts[current]["passing"] += int(found.group(1))
            counts[current]["failing"] += int(found.group(2))
    return counts


def area(test: str) -> str:
    """tests/forest/economy/test_pricing.py::x -> forest/economy."""
    parts = test.split("::")[0].split("/")[1:-1]
    return "/".join(parts) or "tests"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "statistics", type=Path, help="what pytest --hypothesis-show-statistics printed"
    )
    parser.add_argument("--json-out", type=Path, help="also write the per-property counts")
    args = parser.parse_args(argv)
    try:
        counts = parse(args.statistics.read_text())
    except OSError as exc:
        print(f"fuzz_counts: error: {args.statistics}: {exc.strerror}", file=sys.stderr)
        return 2
    if not counts:
        print(f"fuzz_counts: error: {args.statistics}: no hypothesis statistics", file=sys.stderr)
        return 2
    by_area = defaultdict(list)
    for test, c in counts.items():
        by_area[area(test)].append(c["passing"])
    print(f"{'area':24s} {'properties':>10s} {'>=2000':>7s} {'fewest':>7s} {'examples':>9s}")
    for name in sorted(by_area):
        passing = by_area[name]
        reached = sum(p >= TARGET for p in passing)
        print(f"{name:24s} {len(passing):10d} {reached:7d} {min(passing):7d} {sum(passing):9d}")
    failures = {t: c for t, c in counts.items() if c["failing"]}
    total = sum(c["passing"] for c in counts.values())
    print(f"{len(counts)} properties, {total} passing examples, {len(failures)} with failures")
    for test, c in failures.items():
        print(f"FAILED {test}: {c['failing']} failing example(s)")
    if args.json_out:
        args.json_out.write_text(json.dumps(counts, indent=2))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
