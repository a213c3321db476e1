"""Training the router on counterfactual labels: keep a message when it changes a decision.

For a sample of each round's messages (under the experts, in every economy), the round is
replayed on a copy of the economy with that one message withheld; the label is whether its
receiver's next expert decision differs from the one it makes with every message delivered.
Echoes never change anything; a demand report, a rival's quote or an offer often does.

``calibrate_threshold`` then picks the keep threshold by what the router is for: the highest one
under which the routed forest still does its job as well as with every message.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F

from forest.economy import Economy, Messages, economy_names, make_economy
from forest.economy.rollout import Episode, play
from forest.errors import ConfigError
from forest.evaluation import forest_policy, kept_share
from forest.policy import ForestPolicy
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


# Keep thresholds tried, fewest tokens kept first; at 0 every message is kept (scores >= 0), so
# the search always ends on a router that changes nothing.
THRESHOLDS = (0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 0.0)
CALIBRATION_SEED_BASE = 21_000


def calibrate_threshold(
    policy: ForestPolicy,
    router: Router,
    n_agents: int,
    rounds: int,
    seed: int,
    completion_tolerance: float = 0.01,
    welfare_tolerance: float = 0.02,
    thresholds: tuple[float, ...] = THRESHOLDS,
    economies: tuple[str, ...] | None = None,
) -> tuple[float, list[dict[str, float | str | bool]]]:
    """The highest keep threshold under which ``policy`` routed by ``router`` does its job as
    well as with every message: in every one of ``economies``, completion less than
    ``completion_tolerance`` below and welfare less than ``welfare_tolerance`` of its size below
    (or neither below at all), on one calibration episode (seeds apart from the labels' and from
    evaluation's).

    Why a search and not 0.5: a message's label asks whether withholding it *alone* changes a
    decision, and where messages are redundant (quotes in the exchange) no single one does, while
    dropping most of them does. Returns (threshold, one row per economy and threshold tried);
    the router keeps its own threshold, and the caller sets the one returned. ``economies``
    (default: every one) are those the forest was fitted to.
    """
    economies = tuple(economy_names()) if economies is None else economies
    if not thresholds or thresholds[-1] != 0.0 or list(thresholds) != sorted(thresholds)[::-1]:
        raise ConfigError(
            f"thresholds: expected them falling to a last 0.0 (keeps every message, so that one "
            f"passes), got {thresholds!r}"
        )
    if router.keep_budget < 1.0:
        raise ConfigError(
            f"router.keep_budget: expected 1.0 (a budget could drop messages at threshold 0), "
            f"got {router.keep_budget}"
        )
    reference = {
        name: _routed_episode(policy, None, name, n_agents, rounds, seed) for name in economies
    }
    checks: list[dict[str, float | str | bool]] = []
    searched = router.threshold  # the caller's router is left as it came, whatever happens
    try:
        for threshold in thresholds:
            router.threshold = threshold
            for name in economies:
                episode = _routed_episode(policy, router, name, n_agents, rounds, seed)
                full = reference[name]
                ok = _within(
                    episode.task_completion, full.task_completion, completion_tolerance
                ) and _within(
                    episode.metrics["welfare"],
                    full.metrics["welfare"],
                    welfare_tolerance * abs(full.metrics["welfare"]),
                )
                checks.append(
                    {
                        "threshold": threshold,
                        "economy": name,
                        "completion": episode.task_completion,
                        "completion_all_messages": full.task_completion,
                        "welfare": episode.metrics["welfare"],
                        "welfare_all_messages": full.metrics["welfare"],
                        "kept_share": kept_share([episode]),
                        "passed": ok,
                    }
                )
                if not ok:
                    break
            else:  # every economy passed
                return threshold, checks
        raise AssertionError("unreachable: the last threshold keeps every message")
    finally:
        router.threshold = searched


def _within(value: float, reference: float, allowed: float) -> bool:
    """No loss, or a loss less than ``allowed``. Completions are counts over agent-rounds, so a
    loss of exactly ``allowed`` happens (0.01 is 12 of 1,200), and float rounding must not decide
    it: it fails, with a margin far above rounding and far below one agent-round."""
    loss = reference - value
    return loss <= 0.0 or loss < allowed - 1e-9


def _routed_episode(
    policy: ForestPolicy, router: Router | None, name: str, n_agents: int, rounds: int, seed: int
) -> Episode:
    economy = make_economy(name, CALIBRATION_SEED_BASE + seed, n_agents=n_agents)
    routed = ForestPolicy(policy.model, policy.tokenizer, router)
    return play(economy, forest_policy(routed, use_router=router is not None), rounds)
