import numpy as np

from attacks import AttackView, make_attack
from forest.economy import make_economy
from forest.economy.messages import DEMAND, MAX_MESSAGE_VALUE


def test_honest_siblings_reports_are_rewritten_and_the_attackers_own_are_not():
    economy = make_economy("supply_chain", 0, n_agents=30)
    economy.step(*economy.expert())
    _, messages = economy.expert()
    reports = messages.kinds == DEMAND
    liar = int(messages.sender[reports][0])
    parent = int(messages.receiver[reports][0])
    view = AttackView(0, economy, np.array([liar]), None, np.random.default_rng(0))
    out = make_attack("spoofed-reports", {"factor": 2.0}).messages(view, messages)
    siblings = reports & (messages.receiver == parent) & (messages.sender != liar)
    assert siblings.any()
    expected = np.clip(np.rint(messages.values[siblings] * 2.0), 0, MAX_MESSAGE_VALUE)
    assert np.array_equal(out.values[siblings], expected)
    assert np.array_equal(out.sender, messages.sender)  # the lie keeps the honest names
    assert np.array_equal(out.tokens[~siblings], messages.tokens[~siblings])
