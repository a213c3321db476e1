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
