import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from tiny_language_model import save_tiny_language_model

from forest.economy import economy_class, make_economy
from forest.pretrained.prompts import PromptTokenizer, render_prompts, render_value

SCRIPT = Path(__file__).parents[2] / "experiments" / "prompt_probe.py"
spec = importlib.util.spec_from_file_location("prompt_probe", SCRIPT)
prompt_probe = importlib.util.module_from_spec(spec)
spec.loader.exec_module(prompt_probe)


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    return save_tiny_language_model(tmp_path_factory.mktemp("probe_lm"))


def test_the_probed_token_holds_the_last_digit_of_each_value(tiny_lm):
    tokenizer = PromptTokenizer.load(tiny_lm).tokenizer
    economy = make_economy("supply_chain", seed=0, n_agents=20)
    economy.step(*economy.expert())
    names = [n.replace("_", " ") for n in economy_class("supply_chain").observation_names]
    prompts, observed = render_prompts(economy), economy.observe()
    batch = tokenizer(prompts, padding="longest", return_offsets_mapping=True)
    for i in (0, 9, 19):
        offsets = np.asarray(batch["offset_mapping"][i])
        for name, value in zip(names, observed[i], strict=True):
            k = prompt_probe.value_end_token(prompts[i], offsets, name, value)
            start, end = offsets[k]
            assert render_value(value).endswith(prompts[i][start:end])
            assert prompts[i][:end].endswith(f"{name} {render_value(value)}")


def test_the_probe_writes_a_table_for_every_varying_feature(tiny_lm, tmp_path):
    out = tmp_path / "probe"
    args = ["--language-model", str(tiny_lm), "--layers", "1,2", "--agents", "20"]
    assert prompt_probe.main([*args, "--rounds", "2", "--out", str(out)]) == 0
    result = json.loads((out / "probe.json").read_text())
    assert result["prompts"] == 40 and result["layers"] == [1, 2]
    economy = make_economy("supply_chain", seed=0, n_agents=20)
    observed = []
    for _ in range(2):
        observed.append(economy.observe())
        economy.step(*economy.expert())
    spread = np.ptp(np.concatenate(observed), axis=0)
    names = economy_class("supply_chain").observation_names
    varying = [name for name, width in zip(names, spread, strict=True) if width > 0]
    assert [row["feature"] for row in result["rows"]] == varying
    for row in result["rows"]:
        assert set(row) == {"feature", "mean_1", "value_token_1", "mean_2", "value_token_2"}
        assert all(np.isfinite(row[key]) for key in row if key != "feature")
    assert (out / "probe.png").stat().st_size > 0
    assert (out / "probe.md").read_text().count("\n|") == len(result["rows"]) + 2


def test_probing_a_layer_the_lm_lacks_is_a_one_line_error(tiny_lm, tmp_path, capsys):
    args = ["--language-model", str(tiny_lm), "--layers", "3", "--agents", "20"]
    assert prompt_probe.main([*args, "--out", str(tmp_path / "p"), "--rounds", "2"]) == 2
    assert "the LM has 2 layers" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()
