"""The ``redteam`` command. Sub-commands that later issues build say so and exit 2."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from forest import cli as forest_cli
from forest.economy import economy_class, economy_names
from forest.model.config import PRESETS as MODEL_PRESETS
from forest.training.config import TrainConfig

PLANNED = {
    "run": "run a suite against a trained forest (issue #5)",
    "report": "rebuild a report from MLflow (issue #5)",
}


def _list(args: argparse.Namespace) -> int:
    if args.what == "economies":
        rows = [
            {"name": name, "description": economy_class(name).description}
            for name in economy_names()
        ]
    elif args.what == "presets":
        rows = [
            {"kind": f"economy {name}", "preset": preset, "settings": overrides}
            for name in economy_names()
            for preset, overrides in economy_class(name).config_class.presets.items()
        ]
        rows += [
            {"kind": "forest model", "preset": preset, "settings": settings}
            for preset, settings in MODEL_PRESETS.items()
        ]
        rows += [
            {"kind": "forest training", "preset": preset, "settings": settings}
            for preset, settings in TrainConfig.presets.items()
        ]
    else:
        print(f"redteam: error: listing {args.what} comes with issues #6 and #7", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = Table(title=args.what)
    for column in rows[0]:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    Console().print(table)
    return 0


def _planned(args: argparse.Namespace) -> int:
    print(f"redteam: {args.command}: not yet: {PLANNED[args.command]}", file=sys.stderr)
    return 2


def _bench(args: argparse.Namespace) -> int:
    """``redteam bench forest ...`` is ``forest bench ...``: one implementation, two doors."""
    return forest_cli.main(["bench", *args.options])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="redteam",
        description="Red-team a Thousand-Token Forest agent economy: run attack suites, measure "
        "how far poison spreads, score defenses.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    lst = sub.add_parser("list", help="list economies, presets, attacks or defenses")
    lst.add_argument("what", choices=["economies", "presets", "attacks", "defenses"])
    lst.add_argument("--json", action="store_true", help="print JSON instead of a table")
    lst.set_defaults(handler=_list)
    bench = sub.add_parser(
        "bench",
        help="benchmark the forest (see `forest bench --help` for the options)",
        description="Benchmarks. `redteam bench forest [options]` runs `forest bench [options]`.",
    )
    bench.add_argument("what", choices=["forest"])
    bench.add_argument("options", nargs=argparse.REMAINDER, help="options of `forest bench`")
    bench.set_defaults(handler=_bench)
    for name, text in PLANNED.items():
        planned = sub.add_parser(name, help=f"not yet: {text}")
        planned.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
        planned.set_defaults(handler=_planned)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
