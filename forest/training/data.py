"""Training data: what the forest saw each round, and what the expert would have done there."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from forest.actions import actions_to_classes, valid_classes
from forest.economy import Economy, EconomyConfig, Messages, make_economy
from forest.economy.messages import ECHO, MESSAGE_LEN
from forest.policy import ForestPolicy
from forest.tokenizer import AgentTokenizer

IGNORE = -100  # cross-entropy's ignore_index: agents that send no message


@dataclass
class RoundRecord:
    """One round of one episode, as tensors ready for the model."""

    input_ids: torch.Tensor  # (n, T)
    attention_mask: torch.Tensor  # (n, T) bool
    role_ids: torch.Tensor  # (n,)
    tree_ids: torch.Tensor  # (n,)
    action_target: torch.Tensor  # (n,) class of the expert's action
    action_valid: torch.Tensor  # (n,) number of classes that are actions for the agent
    message_target: torch.Tensor  # (n, MESSAGE_LEN) the expert's message, IGNORE if none


@dataclass
class EpisodeRecord:
    economy: str
    seed: int
    rounds: list[RoundRecord]


def expert_message_targets(economy: Economy, messages: Messages) -> np.ndarray:
    """(n, MESSAGE_LEN) each agent's informative message (its first one), IGNORE if none."""
    target = np.full((economy.n_agents, MESSAGE_LEN), IGNORE, dtype=np.int64)
    informative = messages.select(messages.kinds != ECHO)
    # Reversed so that each sender's first message is the one written last.
    target[informative.sender[::-1]] = informative.tokens[::-1]
    return target


def collect_episode(
    name: str,
    seed: int,
    n_agents: int,
    rounds: int,
    tokenizer: AgentTokenizer,
    n_classes: int,
    learner: ForestPolicy | None = None,
    expert_share: float = 1.0,
    config: EconomyConfig | None = None,
) -> EpisodeRecord:
    """Roll out one episode and label every state with the expert's action and message.

    Without a learner the expert acts (behaviour cloning). With one, each agent follows the
    expert with probability ``expert_share`` and the learner otherwise, and the round's messages
    come from the expert with that probability: the states visited are then the learner's own.
    ``config`` (the economy's default if None) is the economy's, and so its expert's.
    """
    economy = make_economy(name, seed, config=config, n_agents=n_agents)
    mixing = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    if learner is not None:
        learner.reset()
    records = []
    for _ in range(rounds):
        tokens = tokenizer.encode(economy)
        expert_actions, expert_messages = economy.expert()
        records.append(
            RoundRecord(
                input_ids=torch.from_numpy(tokens.input_ids),
                attention_mask=torch.from_numpy(tokens.attention_mask),
                role_ids=torch.from_numpy(economy.role),
                tree_ids=torch.from_numpy(economy.tree_ids()),
                action_target=torch.from_numpy(
                    actions_to_classes(economy, expert_actions, n_classes)
                ),
                action_valid=torch.from_numpy(valid_classes(economy, n_classes)),
                message_target=torch.from_numpy(expert_message_targets(economy, expert_messages)),
            )
        )
        actions, messages = expert_actions, expert_messages
        if learner is not None:
            step = learner.act(economy)
            follow_expert = mixing.random(economy.n_agents) < expert_share
            actions = np.where(follow_expert, expert_actions, step.actions)
            if mixing.random() >= expert_share:
                messages = step.messages
        economy.step(actions, messages)
    return EpisodeRecord(name, seed, records)
