import json

from redteam.cli import main


def test_list_economies_names_all_three(capsys):
    assert main(["list", "economies", "--json"]) == 0
    names = {row["name"] for row in json.loads(capsys.readouterr().out)}
    assert {"supply_chain", "pricing", "exchange"} <= names


def test_list_presets_includes_the_beer_game(capsys):
    assert main(["list", "presets", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert any(r["kind"] == "economy supply_chain" and r["preset"] == "beer-game" for r in rows)
    assert {"tiny", "small", "large", "llama-3.2-3b"} <= {
        r["preset"] for r in rows if r["kind"] == "forest model"
    }


def test_planned_commands_say_not_yet_and_exit_2(capsys):
    assert main(["run", "suite.toml"]) == 2
    assert "not yet" in capsys.readouterr().err
