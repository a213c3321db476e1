"""Profit-seeking fine-tuning: each firm of a forest-played pricing market learns its own profit.

The pricing forest was cloned from a competitive expert (a noisy best response), so it has never
had a reason to collude. Here it plays Calvano's markets itself, sampling every firm's price from
its action softmax, and each sampled price is reinforced by the firm's own discounted profit over
the following rounds, against the mean of all firms that round (PPO's clipped surrogate, as in
``task_reward``, whose pieces this reuses). Firms post the price they charge as their quote, as
in the collusion benchmark. Nothing rewards a rival's profit: whatever the firms learn about
high prices, they learn for their own gain.

The ``seating`` (``forest.seating``) says what the firms share: the latent (``shared``), only the
weights (``masked``), or nothing (``independent``: a model per seat, each trained on its own
firms' profit). Two things still tie the independent models' training together, kept so that
the three seatings train alike: one advantage baseline (the mean over all firms that round,
both seats), and one gradient-norm clip over both models' parameters. Every iteration ends with
a checkpoint; a killed run resumes to the same weights. The encoder is frozen: a firm's summary
of its own state stays what cloning made it, and only the aggregation (where rivals meet) and
the heads (where prices are chosen) learn.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from forest import checkpoints
from forest.actions import classes_to_actions, valid_classes
from forest.economy.pricing import Pricing
from forest.economy.pricing_config import PricingConfig
from forest.errors import ConfigError, InvalidInputError
from forest.policy import action_class_mask
from forest.seating import SEATINGS, SeatedForest, SeatedPolicy, load_seated, save_seated
from forest.training import resume
from forest.training.behaviour_cloning import TrainingError
from forest.training.determinism import deterministic_threads
from forest.training.presets import NamedPresets
from forest.training.task_reward import (
    action_log_probs,
    clipped_policy_loss,
    discounted_returns,
    role_baselined_advantages,
    sample_classes,
)
from forest.validation import require_float, require_int

PROFIT_SEED_BASE = 40_000  # training markets never share a seed with evaluation (0..)
REWARDS = ("own", "joint")


@dataclasses.dataclass(frozen=True)
class ProfitConfig(NamedPresets):
    """What a profit-seeking fine-tune does (see the module docstring)."""

    seating: str = "shared"
    # Whose profit rewards a firm's price: its own ("own", the question), or its market's
    # joint profit ("joint": a cartel's objective, the oracle that shows the forest can reach
    # collusive prices when it is paid for them).
    reward: str = "own"
    markets: int = 100  # duopolies per training episode; each is one sample of a market's play
    rounds: int = 40
    iterations: int = 30
    learning_rate: float = 1e-3
    epochs: int = 2  # optimiser steps per iteration, each on the whole episode's gradient
    # A price is credited with the profit it brings over the next rounds, so that a firm can
    # learn what its price does to its rival's next price (the reason collusion can pay).
    discount: float = 0.95  # Calvano et al.'s
    clip: float = 0.2
    temperature: float = 1.0  # of the price softmax the firms sample from while they explore
    # Weight of the price softmax's entropy in the loss. At 0.01 the firms stopped exploring
    # within ten iterations (entropy 1.4 -> 0.06 nats: the sampled price became the greedy one)
    # and learned nothing more; at 0.05 they keep sampling (about 1 nat) to the end.
    entropy_weight: float = 0.05
    seed: int = 0
    threads: int = 1

    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "default": {},
        "tiny": {"markets": 10, "rounds": 6, "iterations": 2},  # for tests: seconds
    }

    def __post_init__(self) -> None:
        if self.seating not in SEATINGS:
            raise ConfigError(f"seating: expected one of {SEATINGS}, got {self.seating!r}")
        if self.reward not in REWARDS:
            raise ConfigError(f"reward: expected one of {REWARDS}, got {self.reward!r}")
        require_int(self.markets, "markets", 1, 100_000)
        require_int(self.rounds, "rounds", 2, 10_000)
        require_int(self.iterations, "iterations", 1, 999)  # seeds: seed * 1000 + iteration
        require_int(self.epochs, "epochs", 1, 100)
        require_float(self.learning_rate, "learning_rate", 0.0, 1.0, low_open=True)
        require_float(self.discount, "discount", 0.0, 1.0)
        require_float(self.clip, "clip", 0.0, 1.0, low_open=True)
        require_float(self.temperature, "temperature", 0.0, 100.0, low_open=True)
        require_float(self.entropy_weight, "entropy_weight", 0.0, 10.0)
        require_int(self.seed, "seed", 0)
        require_int(self.threads, "threads", 1, 256)


@dataclasses.dataclass
class PlayedRound:
    """One round the firms played, with what PPO needs to score its sampled prices again."""

    summaries: torch.Tensor  # (n, d) what the frozen encoder made of each firm's round
    tree_ids: torch.Tensor
    seat_ids: torch.Tensor
    action_target: torch.Tensor  # (n,) the class each firm sampled
    sampled_log_prob: torch.Tensor  # (n,)
    action_valid: torch.Tensor  # (n,) number of valid classes
    advantage: torch.Tensor | None = None  # (n,) set once the episode's profits are known


def firm_rewards(economy: Pricing, reward: str) -> np.ndarray:
    """(n,) each firm's reward for the round just played, in units of a Nash profit: its own
    profit, or (``joint``) the mean profit of its market's firms."""
    profit = economy.last_profit / economy.nash_profit_scale
    if reward == "own":
        return profit
    joint = economy.by_market(profit).mean(axis=0)  # (markets,)
    return economy.to_agents(np.broadcast_to(joint, (economy.k, economy.n_markets)).copy())


def play_episode(
    policy: SeatedPolicy, config: ProfitConfig, seed: int, generator: torch.Generator
) -> tuple[list[PlayedRound], dict[str, float]]:
    """One episode with sampled prices; returns its rounds (advantages set) and its figures."""
    economy = Pricing(PricingConfig(n_agents=2 * config.markets), seed)
    n_classes = policy.model.config.n_actions
    memory, rounds, profits = None, [], []
    for _ in range(config.rounds):
        inputs = policy.model_inputs(economy)
        inputs["memory"] = memory
        with torch.inference_mode():
            output = policy.model(**inputs)
        valid = action_class_mask(economy, n_classes)
        log_probs = action_log_probs(output.action_logits, valid, config.temperature)
        chosen, sampled_log_prob = sample_classes(log_probs, generator)
        actions = classes_to_actions(economy, chosen.numpy())
        rounds.append(
            PlayedRound(
                output.summaries.clone(),
                inputs["tree_ids"],
                inputs["seat_ids"],
                chosen,
                sampled_log_prob,
                torch.from_numpy(valid_classes(economy, n_classes)),
            )
        )
        economy.step(actions, economy.quotes(actions))
        profits.append(firm_rewards(economy, config.reward))
        memory = output.summaries.clone()
    returns = discounted_returns(np.asarray(profits), config.discount)
    advantages = role_baselined_advantages(returns, economy.role)
    for t, played in enumerate(rounds):
        played.advantage = torch.from_numpy(advantages[t]).float()
    metrics = economy.episode_metrics()
    gap = metrics["monopoly_price"] - metrics["nash_price"]
    figures = {
        "profit_gain": metrics["profit_gain"],
        "price_level": (metrics["mean_price"] - metrics["nash_price"]) / gap,
        "consumer_surplus": metrics["welfare"],
        "profit": float(np.mean(profits)),
    }
    return rounds, figures


def ppo_step(
    model: SeatedForest,
    optimizer: torch.optim.Optimizer,
    rounds: list[PlayedRound],
    config: ProfitConfig,
) -> dict[str, float]:
    """One optimiser step on the clipped surrogate of every round. The encoder is frozen, so
    the summaries recorded in play are exactly what it would give again: only the aggregation
    and the heads run."""
    model.train()
    optimizer.zero_grad(set_to_none=True)
    losses, clipped, entropies = [], [], []
    for played in rounds:
        logits = model.action_logits(played.summaries, played.tree_ids, played.seat_ids)
        loss, figures = clipped_policy_loss(logits, played, config.temperature, config.clip)
        valid = torch.arange(logits.shape[1])[None, :] < played.action_valid[:, None]
        log_probs = action_log_probs(logits, valid, config.temperature)
        entropy = -(log_probs.exp() * log_probs.masked_fill(~valid, 0.0)).sum(dim=1).mean()
        ((loss - config.entropy_weight * entropy) / len(rounds)).backward()
        entropies.append(float(entropy.detach()))
        losses.append(float(loss.detach()))
        clipped.append(figures["clipped_share"])
    torch.nn.utils.clip_grad_norm_(trainable(model), 1.0)
    optimizer.step()
    model.eval()
    return {
        "policy_loss": float(np.mean(losses)),
        "clipped_share": float(np.mean(clipped)),
        "entropy": float(np.mean(entropies)),
    }


def trainable(model: SeatedForest) -> list[torch.nn.Parameter]:
    """Every firm's aggregation and heads: where rivals meet, and where prices are chosen."""
    return [p for p in model.parameters() if p.requires_grad]


def seated_forest(source: Path, seating: str) -> tuple[SeatedForest, Any]:
    """The cloned pricing forest at ``source``, seated: a copy per seat when independent."""
    base = checkpoints.load_token_policy(source, "profit-seeking fine-tuning", with_router=False)
    firms = [base.model]
    if seating == "independent":
        firms = [base.model, copy.deepcopy(base.model)]  # duopolies: one model per seat
    for firm in firms:
        # A firm's summary of its own state stays what cloning made it (and each PPO step
        # reuses the summaries of play instead of running the encoder again, 4x faster).
        firm.encoder.requires_grad_(False)
    return SeatedForest(firms, seating), base.tokenizer


def source_digest(source: Path) -> str:
    """The digest of the checkpoint a fine-tune starts from (which a run's key includes)."""
    if not Path(source).is_dir():
        raise InvalidInputError(f"source: checkpoint {source} does not exist")
    return checkpoints.checkpoint_digest(Path(source))


def finetune_for_profit(
    config: ProfitConfig,
    source: Path,
    out: Path,
    on_iteration: Callable[[dict[str, float]], None] = lambda row: None,
) -> tuple[SeatedPolicy, list[dict[str, float]]]:
    """Fine-tune the forest in ``source`` for profit into ``out`` (resuming a killed run
    there; a finished one there is loaded). Returns the seated policy and one log row per
    iteration: the figures of the episode it played (with sampled prices) and the step's
    loss."""
    source, out = Path(source), Path(out)
    digest = source_digest(source)
    if resume.is_finished(out):
        done = checkpoints.load_json(out / resume.TRAIN_LOG)
        if done.get("train_config") != config.to_dict() or done.get(resume.SOURCE_DIGEST) != digest:
            raise TrainingError(
                f"out: {out} holds a finished fine-tune of another source or config; "
                "fine-tune into a new folder"
            )
        return load_seated(out), done["log"]
    with deterministic_threads(config.threads):
        return _finetune(config, source, out, digest, on_iteration)


def _finetune(
    config: ProfitConfig,
    source: Path,
    out: Path,
    digest: str,
    on_iteration: Callable[[dict[str, float]], None],
) -> tuple[SeatedPolicy, list[dict[str, float]]]:
    model, tokenizer = seated_forest(source, config.seating)
    optimizer = torch.optim.AdamW(trainable(model), lr=config.learning_rate)
    start, log = 0, []
    if resume.has_training_state(out):
        log = resume.load_finetune_log(out, optimizer, config.to_dict(), digest)
        if log is None:
            raise TrainingError(
                f"resume: {out} holds an unfinished fine-tune of another source or config; "
                "fine-tune into a new folder"
            )
        model = load_firms_into(model, out)
        start = len(log)
    for iteration in range(start, config.iterations):
        torch.manual_seed(config.seed * 1000 + iteration)
        generator = torch.Generator().manual_seed(config.seed * 1000 + iteration)
        seed = PROFIT_SEED_BASE + config.seed * 1000 + iteration
        rounds, figures = play_episode(SeatedPolicy(model, tokenizer), config, seed, generator)
        steps = [ppo_step(model, optimizer, rounds, config) for _ in range(config.epochs)]
        row = {"iteration": iteration, **figures, **steps[-1]}
        if not math.isfinite(row["policy_loss"]):
            raise TrainingError("fine-tuning diverged: the loss is no longer finite")
        log.append(row)
        on_iteration(row)
        save_seated(out, model, tokenizer)
        resume.save_finetune_state(out, optimizer, config.to_dict(), digest, log)
    resume.finish_finetune(out, config.to_dict(), digest, log)
    return SeatedPolicy(model, tokenizer), log


def load_firms_into(model: SeatedForest, out: Path) -> SeatedForest:
    """``model`` with the weights of the firms saved in ``out`` (a resumed run)."""
    saved = load_seated(out).model
    model.load_state_dict(saved.state_dict())
    return model
