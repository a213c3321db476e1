"""The ``forest`` command: the system under test on its own (economies, experts, the model)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rich.console import Console

from forest.commands import bench, economy, finetune, model, pretrained, profit
from forest.errors import ForestError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="forest",
        description="The system under test: agent economies, their expert policies, and the "
        "Thousand-Token Forest model that plays them.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    economy.add_parsers(sub)
    model.add_parsers(sub)
    finetune.add_parser(sub)
    profit.add_parser(sub)
    bench.add_parser(sub)
    pretrained.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console()
    try:
        return args.handler(args, console)
    except ForestError as err:
        print(f"forest: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
