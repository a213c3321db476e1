"""A corpus of broken checkpoints behind an otherwise valid suite: `redteam run` refuses each
with one line naming the file (or field), exit code 2, no traceback, and nothing written."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file

from redteam.cli import main

SHIPPED = Path(__file__).parents[2] / "checkpoints" / "small"


def _copy(tmp: Path) -> Path:
    target = tmp / "ckpt"
    shutil.copytree(SHIPPED, target)
    return target


def missing_model(c: Path) -> str:
    (c / "model.safetensors").unlink()
    return "model.safetensors"


def missing_tokenizer(c: Path) -> str:
    (c / "tokenizer.json").unlink()
    return "tokenizer.json"


def truncated_weights(c: Path) -> str:
    data = (c / "model.safetensors").read_bytes()
    (c / "model.safetensors").write_bytes(data[: len(data) // 3])
    return "model.safetensors"


def pickle_instead_of_weights(c: Path) -> str:
    (c / "model.safetensors").unlink()
    (c / "pytorch_model.bin").write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    return "model.safetensors"


def wrong_tensor_shape(c: Path) -> str:
    tensors = load_file(c / "model.safetensors")
    name = next(iter(tensors))
    tensors[name] = tensors[name][..., :1].contiguous()
    save_file(tensors, c / "model.safetensors")
    return name


def config_of_another_model(c: Path) -> str:
    config = json.loads((c / "config.json").read_text())
    config["model_type"] = "llama"
    (c / "config.json").write_text(json.dumps(config))
    return "config.json"


def config_not_json(c: Path) -> str:
    (c / "config.json").write_text("{hidden_size: 128,")
    return "config.json"


def config_impossible_field(c: Path) -> str:
    config = json.loads((c / "config.json").read_text())
    config["num_attention_heads"] = 5  # 128 is not divisible by 5
    (c / "config.json").write_text(json.dumps(config))
    return "num_attention_heads"


def tokenizer_garbage(c: Path) -> str:
    (c / "tokenizer.json").write_text("[1, 2")
    return "tokenizer.json"


def router_truncated(c: Path) -> str:
    data = (c / "router.safetensors").read_bytes()
    (c / "router.safetensors").write_bytes(data[:20])
    return "router"


BREAKAGES = [missing_model, missing_tokenizer, truncated_weights, pickle_instead_of_weights,
             wrong_tensor_shape, config_of_another_model, config_not_json,
             config_impossible_field, tokenizer_garbage, router_truncated]  # fmt: skip


@pytest.mark.parametrize("break_it", BREAKAGES, ids=lambda f: f.__name__)
def test_a_broken_checkpoint_is_refused_with_one_line_exit_2_and_nothing_written(
    break_it, tmp_path, capsys
):
    checkpoint = _copy(tmp_path)
    named = break_it(checkpoint)
    suite = tmp_path / "suite.toml"
    suite.write_text(f"""
[suite]
name = "broken"
checkpoint = "{checkpoint}"
rounds = 6

[[economies]]
name = "supply_chain"
agents = 30

[[attacks]]
name = "latent-noise"
threat = {{ count = 2 }}

[metrics]
blast_radius_rounds = [2]
""")
    db = tmp_path / "mlflow.db"
    code = main(["run", str(suite), "--tracking-uri", f"sqlite:///{db}",
                 "--out", str(tmp_path / "report")])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert named in err, err
    assert not db.exists() and not (tmp_path / "report").exists()
