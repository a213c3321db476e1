"""The ``redteam`` command: run suites, rebuild reports, list what suites may name, benchmark."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from forest import cli as forest_cli
from redteam.commands import collusion, curve, listing, report, run


def _bench(args: argparse.Namespace) -> int:
    """``redteam bench forest ...`` is ``forest bench ...``: one implementation, two doors."""
    return forest_cli.main(["bench", *args.options])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="redteam",
        description="Red-team a Thousand-Token Forest agent economy: run attack suites, measure "
        "how far poison spreads, score defenses. Start with "
        "`redteam run experiments/suites/quickstart.toml`.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run.add_parser(sub)
    curve.add_parser(sub)
    report.add_parser(sub)
    listing.add_parser(sub)
    collusion.add_parser(sub)
    bench = sub.add_parser(
        "bench",
        help="benchmark the forest (see `forest bench --help` for the options)",
        description="Benchmarks. `redteam bench forest [options]` runs `forest bench [options]`.",
    )
    bench.add_argument("what", choices=["forest"])
    bench.add_argument("options", nargs=argparse.REMAINDER, help="options of `forest bench`")
    bench.set_defaults(handler=_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
