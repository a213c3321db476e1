"""The documentation's worked example is code that runs: the attack in docs/extending.md,
registered and played on an economy, does what the page says."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from attacks import AttackView
from attacks import registry as attack_registry
from forest.economy import make_economy

DOCS = Path(__file__).parents[1] / "docs"


def test_the_example_attack_registers_validates_and_doubles_compromised_orders():
    code = re.search(r"```python\n(.*?)```", (DOCS / "extending.md").read_text(), re.S)
    assert code is not None
    before = dict(attack_registry._ATTACKS)
    try:
        namespace: dict = {}
        exec(compile(code.group(1), "docs/extending.md", "exec"), namespace)
        attack = attack_registry.make_attack("double-orders", {"factor": 2.0}, {"count": 2})
        economy = make_economy("supply_chain", 0, n_agents=30)
        actions, _ = economy.expert()
        view = AttackView(0, economy, np.array([0, 1]), None, np.random.default_rng(0))
        out = attack.actions(view, actions)
        expected = np.minimum(actions[:2] * 2, economy.n_actions - 1)
        np.testing.assert_array_equal(out[:2], expected)
        np.testing.assert_array_equal(out[2:], actions[2:])
    finally:
        attack_registry._ATTACKS.clear()
        attack_registry._ATTACKS.update(before)


def test_bring_your_own_forest_builds_a_checkpoint_a_suite_can_red_team(tmp_path):
    """The page's code on a tiny saved Llama, then one cell of a suite on the result."""
    import torch
    from transformers import LlamaConfig, LlamaModel

    from redteam.runner import CellRunner
    from redteam.suite import load_suite

    torch.manual_seed(0)
    llama = tmp_path / "llama"
    LlamaModel(LlamaConfig(vocab_size=50, hidden_size=32, intermediate_size=48,
                           num_hidden_layers=3, num_attention_heads=4,
                           num_key_value_heads=2)).save_pretrained(llama)  # fmt: skip
    page = (DOCS / "bring-your-own-forest.md").read_text()
    code = re.search(r"```python\n(.*?)```", page, re.S).group(1)
    out = tmp_path / "my-forest"
    code = code.replace('Path("path/to/llama")', repr(str(llama)).join(("Path(", ")")))
    code = code.replace('Path("checkpoints/my-forest")', repr(str(out)).join(("Path(", ")")))
    exec(compile(code, "docs/bring-your-own-forest.md", "exec"), {})
    suite = tmp_path / "mine.toml"
    suite.write_text(f"""
[suite]
name = "mine"
checkpoint = "{out}"
rounds = 4
seeds = 1

[[economies]]
name = "supply_chain"
agents = 30

[[attacks]]
name = "latent-noise"
params = {{ start_round = 1 }}
threat = {{ count = 3 }}

[metrics]
blast_radius_rounds = [1]
""")
    (cell,) = load_suite(suite).cells
    result = CellRunner().run(cell)
    assert 0.0 <= result.scalars["blast_radius_final"] <= 1.0
