"""Every attack is tagged with the MITRE ATLAS technique and the OWASP entries that fit it; the
measurement devices (null, decoy) are not attacks and carry none."""

from __future__ import annotations

import json

from attacks import attack_class, attack_names
from attacks.threat_tags import TAG_NAMES
from redteam.cli import main

DEVICES = {"null", "decoy"}


def test_every_attack_has_an_atlas_technique_and_an_owasp_entry_from_the_vocabulary():
    for name in attack_names():
        tags = attack_class(name).threat_tags
        assert set(tags) <= set(TAG_NAMES), f"{name}: unknown tags {set(tags) - set(TAG_NAMES)}"
        if name in DEVICES:
            assert tags == ()
            continue
        assert any(t.startswith("AML.T") for t in tags), f"{name}: no ATLAS technique"
        assert any(t.startswith(("LLM", "ASI")) for t in tags), f"{name}: no OWASP entry"


def test_list_attacks_json_carries_the_tags_with_their_names(capsys):
    assert main(["list", "attacks", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["prompt-injection"]["threat_tags"]["LLM01:2025"] == "OWASP LLM: Prompt Injection"
    assert rows["message-flooding"]["threat_tags"]["AML.T0046"].startswith("ATLAS")


def test_list_presets_shows_the_pretrained_forest(capsys):
    assert main(["list", "presets", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert any(row["preset"] == "pretrained" and row["kind"] == "pretrained forest" for row in rows)


def test_an_attack_with_an_unknown_tag_is_refused_at_registration():
    import pytest

    from attacks import Attack, register_attack

    class Untagged(Attack):
        name = "untagged-example"
        description = "an attack with a made-up tag"
        surface = "none"
        threat_tags = ("AML.T9999",)

    with pytest.raises(ValueError, match=r"unknown threat tags \['AML\.T9999'\]"):
        register_attack(Untagged)
    assert "untagged-example" not in attack_names()
