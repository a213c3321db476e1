"""The suite reference is generated from the dataclasses that validate suites: every field of
every section, attack, defense and economy config must say what it means where it is declared."""

from __future__ import annotations

from dataclasses import dataclass

from attacks import attack_names
from defenses import defense_names
from forest.economy import economy_names
from redteam.schema import documented_classes, field_docs, suite_reference


def test_every_field_a_suite_can_set_is_documented_where_it_is_declared():
    undocumented = [
        f"{cls.__module__}.{cls.__name__}.{f.name}"
        for cls in documented_classes()
        for f in field_docs(cls)
        if not f.doc
    ]
    assert not undocumented, f"fields without a comment: {undocumented}"


def test_the_reference_names_every_registered_attack_defense_and_economy():
    page = suite_reference()
    for name in [*attack_names(), *defense_names(), *economy_names()]:
        assert f"### `{name}`" in page


@dataclass(frozen=True)
class Documented:
    # Above the field,
    # on two lines.
    first: int = 1  # and at its end
    second: str = "x"  # only at its end
    third: float = 0.5


@dataclass(frozen=True)
class Child(Documented):
    third: float = 0.25  # overridden, documented here


def test_field_docs_read_comments_above_and_beside_a_field_and_through_inheritance():
    docs = {f.name: f for f in field_docs(Child)}
    assert docs["first"].doc == "Above the field, on two lines. and at its end"
    assert docs["second"].doc == "only at its end" and docs["second"].default == "'x'"
    assert docs["third"].doc == "overridden, documented here" and docs["third"].default == "0.25"
    assert [f.name for f in field_docs(Documented)][-1] == "third"
    assert field_docs(Documented)[-1].doc == ""
