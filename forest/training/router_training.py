"""Training the router on counterfactual labels: keep a message when it changes a decision.

For a sample of each round's messages (under the experts, in every economy), the round is
replayed on a copy of the economy with that one message withheld; the label is whether its
receiver's next expert decision differs from the one it makes with every message delivered.
Echoes never change anything; a demand report, a rival's quote or an offer often does.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F

from forest.economy import Economy, Messages, economy_names, make_economy
from forest.router import Router

LABEL_SEED_BASE = 20_000


def _next_decisions(economy: Economy, actions: np.ndarray, delivered: Messages) -> np.ndarray:
    twin = copy.deepcopy(economy)
    twin.step(actions, delivered)
    return twin.expert()[0]


def counterfactual_labels(
    economy: Economy, rounds: int, per_round: int, rng: np.random.Generator
) -> tuple[Messages, np.ndarray, np.ndarray]:
    """(messages, sender/receiver roles stacked (M, 2), labels (M,)) from ``rounds`` rounds."""
    batches, roles, labels = [], [], []
    for _ in range(rounds):
        actions, messages = economy.expert()
        if len(messages):
            baseline = _next_decisions(economy, actions, messages)
            sample = rng.choice(len(messages), size=min(per_round, len(messages)), replace=False)
            for j in np.sort(sample):
                without = messages.select(np.arange(len(messages)) != j)
                receiver = messages.receiver[j]
                changed = _next_decisions(economy, actions, without)[receiver] != baseline[receiver]
                labels.append(bool(changed))
            chosen = messages.select(np.sort(sample))
            batches.append(chosen)
            roles.append(np.stack([economy.role[chosen.sender], economy.role[chosen.receiver]], 1))
        economy.step(actions, messages)
    return Messages.concat(*batches), np.concatenate(roles), np.asarray(labels)


def router_dataset(
    n_agents: int, rounds: int, seed: int, per_round: int = 48
) -> tuple[Messages, np.ndarray, np.ndarray]:
    """Labelled messages from every economy."""
    rng = np.random.default_rng([seed, 3])
    parts = [
        counterfactual_labels(
            make_economy(name, LABEL_SEED_BASE + seed, n_agents=n_agents), rounds, per_round, rng
        )
        for name in economy_names()
    ]
    messages = Messages.concat(*(p[0] for p in parts))
    return messages, np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts])


def train_router(
    messages: Messages, roles: np.ndarray, labels: np.ndarray, epochs: int, seed: int
) -> Router:
    """Full-batch logistic training of a fresh router (the data is a few thousand rows)."""
    torch.manual_seed(seed)
    router = Router()
    optimizer = torch.optim.AdamW(router.parameters(), lr=1e-2)
    tokens = torch.from_numpy(messages.tokens)
    sender, receiver = torch.from_numpy(roles[:, 0]), torch.from_numpy(roles[:, 1])
    target = torch.from_numpy(labels.astype(np.float32))
    router.train()
    for _ in range(epochs):
        loss = F.binary_cross_entropy_with_logits(router(tokens, sender, receiver), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return router.eval()
