import json

from forest.cli import main


def test_expert_eval_prints_json_with_task_completion_and_metrics(capsys):
    assert (
        main(
            [
                "expert-eval",
                "supply_chain",
                "--agents",
                "60",
                "--rounds",
                "10",
                "--seeds",
                "2",
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert 0.0 <= out["task_completion"] <= 1.0
    assert {"fill_rate", "bullwhip_warehouse", "holding_cost"} <= set(out)
    assert [row["seed"] for row in out["per_seed"]] == [0, 1]


def test_expert_eval_reports_the_cut_channel_side_by_side(capsys):
    assert (
        main(
            [
                "expert-eval",
                "supply_chain",
                "--agents",
                "60",
                "--rounds",
                "10",
                "--seeds",
                "1",
                "--json",
                "--no-messages",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["no_messages"]["message_tokens"] == [0]
    assert out["message_tokens"][0] > 0


def test_expert_eval_table_names_both_columns(capsys):
    assert (
        main(
            [
                "expert-eval",
                "supply_chain",
                "--agents",
                "30",
                "--rounds",
                "5",
                "--seeds",
                "1",
                "--no-messages",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "messages cut" in out and "fill_rate" in out


def test_unknown_economy_is_a_one_line_error_with_exit_2(capsys):
    assert main(["expert-eval", "barter"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("forest: error: economy: unknown economy 'barter'")
    assert len(err.strip().splitlines()) == 1


def test_bad_sizes_are_one_line_errors(capsys):
    assert main(["expert-eval", "supply_chain", "--agents", "1"]) == 2
    assert "n_agents" in capsys.readouterr().err
    assert main(["expert-eval", "supply_chain", "--rounds", "0"]) == 2
    assert "rounds" in capsys.readouterr().err


def test_expert_eval_of_a_preset_plays_that_presets_expert(capsys):
    args = ["expert-eval", "supply_chain", "--agents", "60", "--rounds", "30", "--seeds", "1"]
    assert main([*args, "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert main([*args, "--preset", "tuned-expert", "--json"]) == 0
    tuned = json.loads(capsys.readouterr().out)
    assert tuned["preset"] == "tuned-expert" and plain["preset"] == "default"
    assert tuned["task_completion"] > plain["task_completion"]
    assert tuned["holding_cost"] > plain["holding_cost"]


def test_expert_eval_of_an_unknown_preset_is_a_one_line_error(capsys):
    assert main(["expert-eval", "supply_chain", "--preset", "magic"]) == 2
    assert "magic" in capsys.readouterr().err
