import argparse
import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from redteam.intervals import t_interval

SCRIPT = Path(__file__).parents[2] / "experiments" / "attack_transfer.py"
spec = importlib.util.spec_from_file_location("attack_transfer", SCRIPT)
attack_transfer = importlib.util.module_from_spec(spec)
sys.modules["attack_transfer"] = attack_transfer  # its dataclass looks its module up
spec.loader.exec_module(attack_transfer)


def _forest(width: int, reads_text: bool) -> SimpleNamespace:
    return SimpleNamespace(model=SimpleNamespace(config=SimpleNamespace(hidden_size=width)),
                           reads_text=reads_text)  # fmt: skip


def _plan(width_lm: int) -> dict[tuple[str, str, str], str | None]:
    models = {"token forest": _forest(64, False), "pretrained": _forest(width_lm, True)}
    plan = attack_transfer.cells(models, attack_transfer.ATTACKS["supply_chain"])
    return {(name, victim, attacker): reason for name, victim, attacker, reason in plan}


def test_black_box_attacks_are_played_once_per_forest_and_never_transferred():
    plan = _plan(64)
    for name in ("phantom-orders", "inventory-lies"):
        assert {(v, a) for (n, v, a) in plan if n == name} == {
            ("token forest", "token forest"), ("pretrained", "pretrained")}  # fmt: skip
        assert all(plan[(name, v, v)] is None for v in ("token forest", "pretrained"))


def test_every_cell_that_cannot_run_says_why():
    plan = _plan(64)
    assert plan[("prompt-injection", "token forest", "token forest")] == (
        "the token forest reads no words")  # fmt: skip
    assert plan[("text-gcg", "pretrained", "token forest")] == "needs a surrogate that reads words"
    assert plan[("message-gcg", "pretrained", "pretrained")] == "needs a token-forest surrogate"
    assert plan[("text-gcg", "pretrained", "pretrained")] is None
    assert plan[("message-gcg", "pretrained", "token forest")] is None  # transferred
    # Latent attacks transfer between forests whose summaries have the same width only.
    assert plan[("latent-pgd-targeted", "pretrained", "token forest")] is None
    assert _plan(576)[("latent-pgd-targeted", "pretrained", "token forest")] == (
        "the forests' summaries differ in width")  # fmt: skip


def test_harm_says_whether_it_is_significant_and_a_rate_only_shows_its_spread():
    holds_zero = t_interval(np.array([-0.1, 0.2, 0.05]))
    assert attack_transfer.shown_interval(holds_zero, signed=True).endswith(" ns")
    harmful = t_interval(np.array([1.0, 1.1, 0.9]))
    assert not attack_transfer.shown_interval(harmful, signed=True).endswith(" ns")
    rate = attack_transfer.shown_interval(t_interval(np.array([0.0, 0.1, 0.2])), signed=False)
    assert "ns" not in rate and rate.startswith("0.10 [")
    spread = t_interval(np.array([0.0, 0.0, 0.6]))  # its t interval runs from below 0 past 1
    assert attack_transfer.shown_interval(spread, signed=False) == "0.20 [0.00, 1.00]"
    assert attack_transfer.shown_interval(t_interval(np.array([0.3])), signed=False) == "0.30"


def test_the_report_lists_every_cell_with_its_figures_or_its_reason():
    args = argparse.Namespace(economy="supply_chain", agents=260, rounds=10, seeds=3)
    rows = [
        {"attack": "phantom-orders", "victim": "pretrained", "attacker": "pretrained",
         "reason": None, "harm_text": "1.00 [0.50, 1.50]",
         "harm_share_text": "0.030 [0.015, 0.045]", "attack_success_rate_text": "0.50",
         "blast_radius_text": "0.20"},
        {"attack": "text-gcg", "victim": "token forest", "attacker": "token forest",
         "reason": "the token forest reads no words"},
    ]  # fmt: skip
    shown = [{"round": 2, "receiver": 7, "prompt": "you are a retailer", "attacked": 90,
              "clean": 12}]  # fmt: skip
    clean = {"token forest": -12.0, "pretrained": -33.3}
    text = attack_transfer.markdown(args, rows, shown, clean)
    row = "| phantom-orders | pretrained | pretrained | 1.00 [0.50, 1.50] | 0.030 [0.015, 0.045] |"
    assert "| harm | harm / abs(twin's welfare) |" in text
    assert row + " 0.50 | 0.20 |" in text
    assert "token forest -12, pretrained -33.3" in text
    assert "| text-gcg | token forest | token forest | n/a: the token forest reads no words" in text
    assert "round 2, agent 7: ordered 90 (clean twin: 12)" in text


def _played(harm: float, drop: float = 0.0) -> dict:
    figures = {"harm": harm, "attack_success_rate": 0.5, "blast_radius": 0.2, "utility_drop": drop}
    return {"figures": figures, "seconds": 1.0, "shown": []}


def test_harm_is_a_share_of_the_twin_it_was_measured_against_on_the_same_seed():
    """Seed s's twin has cost 10 * (s + 1) (welfare is minus cost) and the attack costs 1% of it:
    the share is then 0.01 on every seed, a point, though the absolute harms triple."""
    reason = "the token forest reads no words"
    plan = [("phantom-orders", "pretrained", "pretrained", None),
            ("text-gcg", "token forest", "token forest", reason)]  # fmt: skip
    twins = {("pretrained", s): -10.0 * (s + 1) for s in range(3)}
    # Each seed's cell meets its own seed's twin, whatever order the cells were read in.
    results = {("phantom-orders", "pretrained", "pretrained"):
               {2: _played(0.3, -0.1), 0: _played(0.1, 0.05), 1: _played(0.2, -0.05)}}  # fmt: skip
    row, skipped = attack_transfer.table_rows(plan, results, twins)
    assert row["harm_share"]["mean"] == pytest.approx(0.01)
    assert row["harm_share"]["high"] - row["harm_share"]["low"] == pytest.approx(0.0, abs=1e-12)
    assert row["harm"]["mean"] == pytest.approx(0.2)
    # A completion drop is a difference from the twin: its interval is not cut at 0.
    assert row["utility_drop_text"].startswith("-0.03 [-") and row["utility_drop_text"].endswith(
        "ns"
    )
    assert skipped["reason"] == reason and "harm" not in skipped
