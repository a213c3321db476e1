import json

from forest.cli import main


def test_pretrained_train_then_eval_from_the_command_line(tiny_lm_dir, tmp_path, capsys):
    out = tmp_path / "forest"
    args = ["pretrained", "train", "--language-model", str(tiny_lm_dir), "--out", str(out)]
    sizes = ["--preset", "tiny", "--prompt-layers", "1", "--agents", "20", "--rounds", "3"]
    sizes += ["--episodes", "1"]
    assert main([*args, *sizes, "--epochs", "1"]) == 0
    assert "trained the pretrained forest" in capsys.readouterr().out
    assert main([*args, *sizes]) == 2  # a finished forest is not retrained without --force
    capsys.readouterr()
    eval_args = ["eval", str(out), "--economy", "pricing", "--agents", "20", "--rounds", "2"]
    assert main([*eval_args, "--seeds", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert 0.0 <= report["pricing"]["forest"]["task_completion"] <= 1.0


def test_a_missing_language_model_is_a_one_line_error(tmp_path, capsys):
    missing = tmp_path / "nothing"
    code = main(["pretrained", "train", "--language-model", str(missing), "--out", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(missing) in err


def test_bad_training_sizes_are_one_line_errors(tiny_lm_dir, tmp_path, capsys):
    args = ["pretrained", "train", "--language-model", str(tiny_lm_dir), "--out", str(tmp_path)]
    assert main([*args, "--agents", "25"]) == 2
    assert "n_agents" in capsys.readouterr().err


def test_pretrained_adapt_from_the_command_line(tiny_lm_dir, tmp_path, capsys):
    out = tmp_path / "adapted"
    args = ["pretrained", "adapt", "--language-model", str(tiny_lm_dir), "--out", str(out)]
    sizes = ["--prompt-layers", "2", "--lora-layers", "1", "--lora-rank", "2"]
    sizes += ["--iterations", "1", "--agents", "20", "--rounds", "3", "--episodes", "1"]
    sizes += ["--router-agents", "20", "--router-rounds", "3"]
    assert main([*args, *sizes]) == 0
    assert "adapted the pretrained forest" in capsys.readouterr().out
    settings = json.loads((out / "train_log.json").read_text())["train_config"]
    assert (settings["router_agents"], settings["router_rounds"]) == (20, 3)
    assert "economy_episodes" not in settings  # none: logged as before the option existed
    assert "large_agents" not in settings
    assert main([*args, *sizes]) == 2  # a finished forest is not adapted again without --force
    capsys.readouterr()
    assert main([*args, *sizes[:2], "--lora-layers", "3", "--force"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lora_layers" in err
    assert main([*args, "--economy-episodes", "supply-chain=4", "--force"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown economy 'supply-chain'" in err
    assert main([*args, "--large-agents", "255", "--force"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "large_agents: expected a multiple of 10" in err
    route = ["pretrained", "route", str(out), "--language-model", str(tiny_lm_dir)]
    assert main(route) == 0
    said = capsys.readouterr().out
    assert "keep threshold" in said and "exchange" in said
    assert main(["pretrained", "route", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "forest pretrained adapt" in err
