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


def test_list_attacks_and_defenses_show_surfaces_objectives_and_default_params(capsys):
    assert main(["list", "attacks", "--json"]) == 0
    attacks = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert attacks["latent-noise"]["surface"] == "summary tokens"
    assert attacks["latent-noise"]["params"]["norm"] == 4.0
    assert attacks["compromised-order-spike"]["surface"] == "actions"
    assert main(["list", "defenses", "--json"]) == 0
    defenses = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert defenses["mahalanobis"]["params"] == {"target_fpr": 0.01}


def test_list_prints_a_table_without_json(capsys):
    assert main(["list", "attacks"]) == 0
    assert "latent-noise" in capsys.readouterr().out


def test_run_of_a_missing_suite_file_is_a_one_line_error_with_exit_2(capsys, tmp_path):
    assert main(["run", str(tmp_path / "nope.toml")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"redteam: error: {tmp_path / 'nope.toml'}: no such suite file"


def test_report_of_an_unknown_run_is_a_one_line_error_with_exit_2(capsys, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["report", "0123abcd", "--tracking-uri", uri]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no MLflow run '0123abcd'" in err[0]


def test_list_screens_shows_what_each_reads_and_needs(capsys):
    assert main(["list", "screens", "--json"]) == 0
    screens = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert len(screens) >= 12
    assert screens["rotation"]["reads"] == "AuctionPanel"
    assert screens["punishment-probe"]["needs"] == "probed"
