import numpy as np
import torch

from attacks import AttackView, make_attack
from attacks.latent import latent_round
from attacks.message_gcg import ALLOWED, _channel
from forest.economy import make_economy
from forest.economy.messages import MESSAGE_LEN
from forest.interventions import Interventions

COMPROMISED = np.array([4, 21, 38])


def _view(policy, seed=0):
    economy = make_economy("exchange", 0, n_agents=60)
    for _ in range(3):
        step = policy.act(economy)
        economy.step(step.actions, step.messages)
    return AttackView(3, economy, COMPROMISED, policy, np.random.default_rng(seed))


def _crafted_round(policy, attack, view):
    with torch.inference_mode():  # as inside ForestPolicy.act
        step = policy.act(
            view.economy, Interventions(edit_messages=lambda m: attack.messages(view, m))
        )
    return step


def test_crafted_messages_are_valid_tokens_that_the_economy_accepts(policy):
    view = _view(policy)
    attack = make_attack("message-gcg", {"steps": 2, "candidates": 8}, {"knowledge": "white-box"})
    step = _crafted_round(policy, attack, view)
    assert attack.tokens.shape == (COMPROMISED.size, MESSAGE_LEN)
    assert np.isin(attack.tokens[:, 0], ALLOWED[0]).all()
    assert np.isin(attack.tokens[:, 1:], ALLOWED[1]).all()
    view.economy.step(step.actions, step.messages)  # validates senders, receivers and tokens


def test_the_search_passes_the_router_and_beats_random_messages_that_do(policy):
    view = _view(policy)
    attack = make_attack("message-gcg", {"steps": 4}, {"knowledge": "white-box"})
    _crafted_round(policy, attack, view)
    channel = _channel(view)
    assert attack._delivered(view, channel, attack.tokens)
    lr = latent_round(view)
    found = attack._exact(view, lr, channel, attack.tokens)
    rng = np.random.default_rng(5)
    random_gains = []
    while len(random_gains) < 20:
        kinds = rng.choice(ALLOWED[0], size=COMPROMISED.size)
        digits = rng.choice(ALLOWED[1], size=(COMPROMISED.size, MESSAGE_LEN - 1))
        tokens = np.column_stack([kinds, digits])
        if attack._delivered(view, channel, tokens):
            random_gains.append(attack._exact(view, lr, channel, tokens))
    assert found > np.max(random_gains)


def test_crafted_messages_come_first_and_replace_only_the_attackers_own_reports(policy):
    view = _view(policy)
    economy = view.economy
    outgoing = economy.broadcast(np.full((60, MESSAGE_LEN), 9))  # every agent reports 9s
    attack = make_attack("message-gcg", {"steps": 1, "candidates": 4}, {"knowledge": "white-box"})
    with torch.inference_mode():
        sent = attack.messages(view, outgoing)
    channel = _channel(view)
    m = channel.sender.size
    assert np.array_equal(sent.sender[:m], channel.sender)  # first: they take the first slots
    assert np.array_equal(sent.tokens[:m], attack.tokens[channel.author])
    rest = sent.select(np.arange(m, len(sent)))
    assert not np.isin(rest.sender, COMPROMISED).any()
    honest = outgoing.select(np.flatnonzero(~np.isin(outgoing.sender, COMPROMISED)))
    assert np.array_equal(rest.tokens, honest.tokens)
    assert np.array_equal(rest.receiver, honest.receiver)
