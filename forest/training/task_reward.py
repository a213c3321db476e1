"""Task-reward fine-tuning: a cloned forest learns from its own episodes what completes tasks.

Each iteration the forest plays one episode of the economy (with its router, as deployed),
sampling every agent's action from its action softmax. Each agent-round's return is the
discounted sum, from that round on, of the task flags of the agent's tree (its market, or its
supplier with the warehouses and retailers below): rewarded with its own flags only, a
retailer learns to over-order and leaves its warehouse the backlog; its advantage is that return
less the mean return of agents of the same role in the same round (a baseline that removes what
the round itself made easy or hard), scaled to unit spread. The update is PPO's clipped
surrogate on those advantages, plus the message head's imitation of the expert's messages in
the same states, with imitation rounds of every other economy's expert in the same batch so
that their skills stay. Each iteration takes ``epochs`` optimiser steps, each on the gradient
of the whole batch; the clip bounds how far the later ones move a sampled class. Every
iteration ends with a checkpoint: a killed run resumes to the same
weights."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from forest import checkpoints
from forest.actions import classes_to_actions, valid_classes
from forest.economy import economy_names, make_economy
from forest.policy import ForestPolicy, action_class_mask
from forest.training import resume
from forest.training.behaviour_cloning import (
    RoundLoss,
    TrainingError,
    forward_round,
    message_imitation_loss,
    round_loss,
)
from forest.training.data import EpisodeRecord, RoundRecord, collect_episode, expert_message_targets
from forest.training.determinism import deterministic_threads
from forest.training.plots import plot_finetune_curve
from forest.training.task_reward_config import TaskRewardConfig

FINETUNE_SEED_BASE = 20_000  # episodes never share a seed with evaluation (0..) or cloning
FINETUNE_CURVE = "finetune_curve.png"


@dataclass
class RewardedRound(RoundRecord):
    """A round the forest played itself: ``action_target`` holds the class it sampled."""

    advantage: torch.Tensor  # (n,) how much better than its role's mean the agent did after
    sampled_log_prob: torch.Tensor  # (n,) log-probability of the class when it was sampled


def discounted_returns(flags: np.ndarray, discount: float) -> np.ndarray:
    """(rounds, n) sum over k >= 0 of discount**k * flags[t + k], to the episode's end."""
    returns = np.zeros(flags.shape, dtype=np.float64)
    following = np.zeros(flags.shape[1], dtype=np.float64)
    for t in range(flags.shape[0] - 1, -1, -1):
        following = flags[t] + discount * following
        returns[t] = following
    return returns


def tree_shared_flags(flags: np.ndarray, trees: np.ndarray) -> np.ndarray:
    """(rounds, n) each agent's flag replaced by the mean flag of its tree that round."""
    _, tree_index = np.unique(trees, return_inverse=True)
    members = np.bincount(tree_index)
    shared = np.stack([np.bincount(tree_index, weights=row) / members for row in flags])
    return shared[:, tree_index]


def role_baselined_advantages(returns: np.ndarray, roles: np.ndarray) -> np.ndarray:
    """(rounds, n) each return less its round's mean over agents of the same role, divided by
    the spread of all those differences (all zero when there is no spread beyond rounding)."""
    advantages = np.empty_like(returns)
    for role in np.unique(roles):
        members = roles == role
        own = returns[:, members]
        advantages[:, members] = own - own.mean(axis=1, keepdims=True)
    spread = advantages.std()
    # Below this the differences are rounding, not signal: dividing would blow them up.
    return advantages / spread if spread > 1e-9 else np.zeros_like(advantages)


def action_log_probs(logits: torch.Tensor, valid: torch.Tensor, temperature: float) -> torch.Tensor:
    """(n, classes) log-softmax of the tempered logits over each agent's valid classes."""
    return F.log_softmax((logits / temperature).masked_fill(~valid, float("-inf")), dim=1)


def sample_classes(
    log_probs: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """One class per agent drawn from ``log_probs`` (n, classes): (classes, their log-probs)."""
    chosen = torch.multinomial(log_probs.exp(), 1, generator=generator)[:, 0]
    return chosen, log_probs.gather(1, chosen[:, None])[:, 0]


def play_and_score(
    policy: ForestPolicy, config: TaskRewardConfig, seed: int, generator: torch.Generator
) -> tuple[EpisodeRecord, float]:
    """One episode the forest plays with sampled actions; returns its rounds with advantages
    and the episode's task completion."""
    economy = make_economy(config.economy, seed, n_agents=config.n_agents)
    n_classes = policy.model.config.n_actions
    policy.reset()
    inputs, flags = [], []
    for _ in range(config.rounds):
        tokens = policy.tokenizer.encode(economy)
        _, expert_messages = economy.expert()
        step = policy.act(economy)
        valid = action_class_mask(economy, n_classes)
        log_probs = action_log_probs(step.output.action_logits, valid, config.temperature)
        chosen, sampled_log_prob = sample_classes(log_probs, generator)
        actions = classes_to_actions(economy, chosen.numpy())
        inputs.append(
            {
                "input_ids": torch.from_numpy(tokens.input_ids),
                "attention_mask": torch.from_numpy(tokens.attention_mask),
                "role_ids": torch.from_numpy(economy.role),
                "tree_ids": torch.from_numpy(economy.tree_ids()),
                "action_target": chosen,
                "sampled_log_prob": sampled_log_prob,
                "action_valid": torch.from_numpy(valid_classes(economy, n_classes)),
                "message_target": torch.from_numpy(
                    expert_message_targets(economy, expert_messages)
                ),
            }
        )
        flags.append(economy.step(actions, step.messages).task_completed)
    task_flags = np.asarray(flags, dtype=np.float64)
    rewards = (
        tree_shared_flags(task_flags, economy.tree_ids())
        if config.reward_scope == "tree"
        else task_flags
    )
    advantages = role_baselined_advantages(
        discounted_returns(rewards, config.discount), economy.role
    )
    rounds = [
        RewardedRound(**fields, advantage=torch.from_numpy(advantages[t]).float())
        for t, fields in enumerate(inputs)
    ]
    return EpisodeRecord(config.economy, seed, rounds), float(task_flags.mean())


def clipped_policy_loss(
    action_logits: torch.Tensor, record: RewardedRound, temperature: float, clip: float
) -> tuple[torch.Tensor, dict[str, float]]:
    """PPO's clipped surrogate on the sampled classes; returns (loss, figures for the log).

    Plain REINFORCE drove the log-probability of badly rewarded classes towards minus infinity
    within a few iterations (the forest's supply-chain completion fell from 0.93 to 0.62):
    the rounds of an episode are replayed one optimiser step each, so later rounds are scored
    by a policy that has already moved. Clipping the probability ratio at ``1 +- clip`` stops
    an update from chasing an advantage past that.
    """
    valid = torch.arange(action_logits.shape[1])[None, :] < record.action_valid[:, None]
    log_probs = action_log_probs(action_logits, valid, temperature)
    taken = log_probs.gather(1, record.action_target[:, None])[:, 0]
    ratio = torch.exp(taken - record.sampled_log_prob)
    surrogate = torch.minimum(
        ratio * record.advantage, ratio.clamp(1.0 - clip, 1.0 + clip) * record.advantage
    )
    clipped = ((ratio - 1.0).abs() > clip).float().mean()
    figures = {"log_prob_taken": float(taken.detach().mean()), "clipped_share": float(clipped)}
    return -surrogate.mean(), figures


def anchor_episodes(
    config: TaskRewardConfig, iteration: int, policy: ForestPolicy
) -> list[EpisodeRecord]:
    """Expert episodes of every other economy, labelled for imitation."""
    others = [name for name in economy_names() if name != config.economy]
    return [
        collect_episode(
            name,
            FINETUNE_SEED_BASE + config.seed * 1000 + iteration * 10 + e_index + 1,
            config.anchor_agents,
            config.anchor_rounds,
            policy.tokenizer,
            policy.model.config.n_actions,
        )
        for e_index, name in enumerate(others)
    ]


def finetune_forest(
    config: TaskRewardConfig,
    source: Path,
    out: Path,
    on_iteration: Callable[[dict[str, float]], None] = lambda row: None,
) -> tuple[ForestPolicy, list[dict[str, float]]]:
    """Fine-tune the token forest in ``source`` into ``out`` (resuming a killed run there).

    Returns the policy and one log row per iteration: the task completion of the episode it
    played (with sampled actions) and the mean losses of its steps.
    """
    with deterministic_threads(config.threads):
        return _finetune_forest(config, source, out, on_iteration)


def _finetune_forest(
    config: TaskRewardConfig,
    source: Path,
    out: Path,
    on_iteration: Callable[[dict[str, float]], None],
) -> tuple[ForestPolicy, list[dict[str, float]]]:
    source, out = Path(source), Path(out)
    policy = checkpoints.load_token_policy(source, "task-reward fine-tuning")
    router = policy.router
    digest = checkpoints.checkpoint_digest(source)
    resuming = resume.has_training_state(out)
    if resuming:
        policy = checkpoints.load_policy(out, with_router=False)
    model = policy.model
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
    start, log = 0, []
    if resuming:
        log = resume.load_finetune_log(out, optimizer, config.to_dict(), digest)
        if log is None:
            raise TrainingError(
                f"resume: {out} holds an unfinished fine-tune of another source or config; "
                "fine-tune into a new --out folder"
            )
        start = len(log)

    for iteration in range(start, config.iterations):
        torch.manual_seed(config.seed * 1000 + iteration)
        generator = torch.Generator().manual_seed(config.seed * 1000 + iteration)
        playing = ForestPolicy(model, policy.tokenizer, router)
        seed = FINETUNE_SEED_BASE + config.seed * 1000 + iteration * 10
        played, completion = play_and_score(playing, config, seed, generator)
        episodes = [played, *anchor_episodes(config, iteration, policy)]
        steps: list[dict[str, float | str]] = []

        def loss(record: RoundRecord, memory: torch.Tensor | None) -> tuple:
            if not isinstance(record, RewardedRound):
                return round_loss(model, record, memory, config.message_weight, config.label_sigma)
            out_ = forward_round(model, record, memory)
            policy_loss, figures = clipped_policy_loss(
                out_.action_logits, record, config.temperature, config.clip
            )
            message = message_imitation_loss(model.config, out_.message_logits, record)
            value = policy_loss + config.message_weight * message
            figures = {
                "loss": float(value.detach()),
                "policy_loss": float(policy_loss.detach()),
                "message_loss": float(message.detach()),
                **figures,
            }
            return value, out_.summaries.detach(), figures

        for _ in range(config.epochs):
            steps += whole_batch_step(model, optimizer, episodes, loss)
        row = iteration_row(iteration, completion, steps)
        if not math.isfinite(row["loss"]):
            raise TrainingError("fine-tuning diverged: the loss is no longer finite")
        log.append(row)
        on_iteration(row)
        model.eval()
        checkpoints.save_policy(out, model, policy.tokenizer, router)
        resume.save_finetune_state(out, optimizer, config.to_dict(), digest, log)
    resume.finish_finetune(out, config.to_dict(), digest, log)
    plot_finetune_curve(log, out / FINETUNE_CURVE, config.economy)
    return ForestPolicy(model, policy.tokenizer, router), log


def whole_batch_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    episodes: list[EpisodeRecord],
    loss: RoundLoss,
) -> list[dict[str, float | str]]:
    """One optimiser step on the gradient of every round of every episode (each episode's
    rounds averaged, episodes summed); returns each round's figures.

    One step per round, as behaviour cloning takes, let the noise of a single round's
    advantages steer Adam: large's supply-chain completion fell from 0.92 to 0.60 in five
    iterations. A whole episode's gradient carries 40 rounds of every tree's signal at once.
    """
    model.train()
    optimizer.zero_grad(set_to_none=True)
    figures = []
    for episode in episodes:
        memory = None
        for record in episode.rounds:
            value, memory, round_figures = loss(record, memory)
            (value / len(episode.rounds)).backward()
            figures.append({"economy": episode.economy, **round_figures})
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    return figures


def iteration_row(
    iteration: int, completion: float, steps: list[dict[str, float | str]]
) -> dict[str, float]:
    """One log row: the played episode's task completion and the iteration's mean losses."""
    own = [s for s in steps if "policy_loss" in s]
    anchors = [s for s in steps if "policy_loss" not in s]
    row = {
        "iteration": iteration,
        "task_completion": completion,
        "loss": float(np.mean([s["loss"] for s in steps])),
        "policy_loss": float(np.mean([s["policy_loss"] for s in own])),
        "message_loss": float(np.mean([s["message_loss"] for s in own])),
        "log_prob_taken": float(np.mean([s["log_prob_taken"] for s in own])),
        "clipped_share": float(np.mean([s["clipped_share"] for s in own])),
    }
    if anchors:
        row["anchor_action_loss"] = float(np.mean([s["action_loss"] for s in anchors]))
    return row
