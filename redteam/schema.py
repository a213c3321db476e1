"""A suite's schema, read from the dataclasses that validate it: every field of every section,
attack, defense and economy config, with its type, default and the comment written beside it.

The suite reference in the documentation is generated from here (``docs/hooks.py``), so a field
is described once, where it is declared: the comment above it or at the end of its line.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from dataclasses import dataclass
from typing import Any

from attacks import ThreatModel, attack_class, attack_names
from defenses import defense_class, defense_names
from forest.economy import economy_class, economy_names
from redteam.suite_sections import (
    AttackEntry,
    DefenseEntry,
    EconomyEntry,
    MetricSettings,
    SuiteSettings,
)

_FIELD_LINE = re.compile(r"^(\w+)\s*:\s*[^#]*?(?:#\s*(?P<doc>.*))?$")

SECTIONS = (
    ("[suite]", SuiteSettings),
    ("[[economies]]", EconomyEntry),
    ("[[attacks]]", AttackEntry),
    ("[[defenses]]", DefenseEntry),
    ("[metrics]", MetricSettings),
)


@dataclass(frozen=True)
class FieldDoc:
    name: str
    type: str
    default: str  # "required" where the field has none
    doc: str


def _comments(cls: type) -> dict[str, str]:
    """Field name -> the comment lines above its declaration and the one at its end."""
    docs: dict[str, str] = {}
    pending: list[str] = []
    for line in inspect.getsource(cls).splitlines()[1:]:
        text = line.strip()
        if text.startswith("#"):
            pending.append(text.lstrip("#").strip())
            continue
        match = _FIELD_LINE.match(text)
        if match and line.startswith("    ") and not line.startswith("     "):
            docs[match.group(1)] = " ".join([*pending, match.group("doc") or ""]).strip()
        pending = []
    return docs


def _default(f: dataclasses.Field[Any]) -> str:
    if f.default is not dataclasses.MISSING:
        return repr(f.default)
    if f.default_factory is not dataclasses.MISSING:
        return repr(f.default_factory())
    return "required"


def field_docs(cls: type) -> list[FieldDoc]:
    """Every field of the dataclass ``cls``, inherited ones included, in declaration order."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if dataclasses.is_dataclass(klass) and klass is not object:
            docs.update({k: v for k, v in _comments(klass).items() if v or k not in docs})
    return [
        FieldDoc(f.name, str(f.type), _default(f), docs.get(f.name, ""))
        for f in dataclasses.fields(cls)
        if f.init
    ]


def markdown_table(fields: list[FieldDoc]) -> str:
    if not fields:
        return "No parameters.\n"
    lines = ["| field | type | default | meaning |", "|---|---|---|---|"]
    for f in fields:
        cells = (f.name, f.type, f.default, f.doc)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _entry(name: str, summary: str, fields: type) -> list[str]:
    return [f"### `{name}`", "", summary, "", markdown_table(field_docs(fields))]


def documented_classes() -> list[type]:
    """Every dataclass a suite's fields are validated by, each once."""
    classes = [cls for _, cls in SECTIONS] + [ThreatModel]
    classes += [attack_class(name).params_class for name in attack_names()]
    classes += [defense_class(name).params_class for name in defense_names()]
    classes += [economy_class(name).config_class for name in economy_names()]
    return list(dict.fromkeys(classes))


def suite_reference() -> str:
    """The suite reference page: sections, then every attack, defense and economy config."""
    out = []
    for header, cls in SECTIONS:
        out += [f"### `{header}`", "", markdown_table(field_docs(cls))]
    out += ["### `threat = {...}` of an attack", "", markdown_table(field_docs(ThreatModel))]
    out += ["## Attacks: `params = {...}`", ""]
    for name in attack_names():
        cls = attack_class(name)
        summary = f"{cls.description}. Surface: {cls.surface}; knowledge: {cls.knowledge}."
        out += _entry(name, summary, cls.params_class)
    out += ["## Defenses: `params = {...}`", ""]
    for name in defense_names():
        cls = defense_class(name)
        out += _entry(name, f"{cls.description} (kind: {cls.kind}).", cls.params_class)
    out += ["## Economies: `config = {...}`", ""]
    for name in economy_names():
        cls = economy_class(name)
        out += _entry(name, f"{cls.description}.", cls.config_class)
    return "\n".join(out)
