"""``redteam list attacks|defenses|screens|economies|presets``: what a suite may name."""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

from rich.table import Table

from attacks import OBJECTIVES, ThreatModel, attack_class, attack_names
from attacks.threat_tags import TAG_NAMES
from defenses import defense_class, defense_names
from defenses.collusion import make_screen, screen_names
from forest.economy import economy_class, economy_names
from forest.model.config import PRESETS as MODEL_PRESETS
from forest.params import to_dict
from forest.pretrained.training import PretrainedTrainConfig
from forest.training.config import TrainConfig
from redteam.commands.console import wide_console


def add_parser(sub: argparse._SubParsersAction) -> None:
    lst = sub.add_parser(
        "list", help="list attacks, defenses, collusion screens, economies or presets"
    )
    lst.add_argument("what", choices=["attacks", "defenses", "screens", "economies", "presets"])
    lst.add_argument("--json", action="store_true", help="print JSON instead of a table")
    lst.set_defaults(handler=handle)


def rows(what: str) -> list[dict[str, Any]]:
    if what == "attacks":
        return [
            {
                "name": name,
                "surface": (cls := attack_class(name)).surface,
                "knowledge": cls.knowledge,
                "objective": (objective := OBJECTIVES[cls.params_class().objective]).name,
                "objective_means": objective.description,
                "params": to_dict(cls.params_class()),
                "threat_model": to_dict(ThreatModel()),
                "description": cls.description,
                "threat_tags": {tag: TAG_NAMES[tag] for tag in cls.threat_tags},
            }
            for name in attack_names()
        ]
    if what == "defenses":
        return [
            {
                "name": name,
                "kind": (cls := defense_class(name)).kind,
                # Defaults as declared: building them may check files (escalation's checkpoint).
                "params": {f.name: f.default for f in dataclasses.fields(cls.params_class)},
                "description": cls.description,
            }
            for name in defense_names()
        ]
    if what == "screens":
        return [
            {
                "name": name,
                "reads": (screen := make_screen(name)).panel_type.__name__,
                "needs": ", ".join(screen.needs) or "-",
                "description": screen.description,
            }
            for name in screen_names()
        ]
    if what == "economies":
        return [
            {"name": name, "description": economy_class(name).description}
            for name in economy_names()
        ]
    out = [
        {"kind": f"economy {name}", "preset": preset, "settings": overrides}
        for name in economy_names()
        for preset, overrides in economy_class(name).config_class.presets.items()
    ]
    out += [
        {"kind": "forest model", "preset": preset, "settings": settings}
        for preset, settings in MODEL_PRESETS.items()
    ]
    out += [
        {"kind": "forest training", "preset": preset, "settings": settings}
        for preset, settings in TrainConfig.presets.items()
    ]
    # The pretrained forest is a forest preset over a frozen language model's first layers.
    pretrained = PretrainedTrainConfig()
    out.append({
        "kind": "pretrained forest",
        "preset": "pretrained",
        "settings": {
            "language_model": "SmolLM2-135M (`make pretrained`)",
            "prompt_layers": pretrained.prompt_layers,
            "forest_preset": pretrained.forest_preset,
            "checkpoint": "checkpoints/pretrained (`forest pretrained train`)",
        },
    })  # fmt: skip
    return out


def _cell(column: str, value: Any) -> str:
    """A table cell: threat tags by id (their names are in --json)."""
    return ", ".join(value) if column == "threat_tags" else str(value)


def handle(args: argparse.Namespace) -> int:
    found = rows(args.what)
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    table = Table(title=args.what)
    for column in found[0]:
        table.add_column(column, overflow="fold")
    for row in found:
        table.add_row(*(_cell(k, v) for k, v in row.items()))
    wide_console().print(table)
    return 0
