"""Behaviour cloning with DAgger: the forest learns every economy's expert at once.

Each iteration gathers episodes of every economy (iteration 0 from the experts, later ones from
the forest with the expert taking over a shrinking share of agents), labels each round with the
expert's action and message, and trains on everything gathered so far. Episodes are replayed in
order, each round's memory being the forest's own detached summaries of the round before, as at
play time. Every iteration draws its randomness from ``(seed, iteration)`` and ends with a
checkpoint, so a killed run resumes where it stopped and ends with the same weights.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from forest import checkpoints
from forest.economy import EconomyConfig, economy_class, economy_names
from forest.errors import ForestError, InvalidInputError
from forest.model.config import PRESETS, ForestConfig
from forest.model.modeling_forest import ForestModel, ForestOutput
from forest.policy import ForestPolicy, message_token_mask
from forest.tokenizer import AGENT_TOKENS, VOCAB_SIZE, AgentTokenizer
from forest.training import resume
from forest.training.adversarial import adversarial_round_loss
from forest.training.config import TrainConfig
from forest.training.data import IGNORE, EpisodeRecord, RoundRecord, collect_episode
from forest.training.determinism import deterministic_threads
from forest.training.plots import plot_loss_curve
from forest.training.router_training import router_dataset, train_router

TRAIN_SEED_BASE = 10_000
INIT_DIGEST = "init_digest"
LOSS_CURVE = "loss_curve.png"  # training episodes never share a seed with evaluation (seeds 0..)
ADVERSARY_STREAM = 1  # the adversarial draws' own random stream, apart from the epoch order's


class TrainingError(ForestError):
    """Training cannot go on: it diverged, or the folder holds another run."""


def forest_config(train: TrainConfig) -> ForestConfig:
    return ForestConfig.preset(
        train.model_preset, vocab_size=VOCAB_SIZE, max_agent_tokens=AGENT_TOKENS
    )


def ordinal_targets(target: torch.Tensor, valid: torch.Tensor, sigma: float) -> torch.Tensor:
    """(n, classes) a Gaussian of width ``sigma`` classes around each target, on valid classes."""
    classes = torch.arange(valid.shape[1], dtype=torch.float32)
    if sigma == 0.0:
        return (classes[None, :] == target[:, None]).float()
    weights = torch.exp(-0.5 * ((classes[None, :] - target[:, None]) / sigma) ** 2) * valid
    return weights / weights.sum(dim=1, keepdim=True)


def message_imitation_loss(
    config: ForestConfig, message_logits: torch.Tensor, record: RoundRecord
) -> torch.Tensor:
    """Cross-entropy of the message head against the expert's messages (zero if none)."""
    allowed = message_token_mask(config.message_len, config.message_vocab)
    message_logits = message_logits.masked_fill(~allowed, float("-inf"))
    message_targets = record.message_target.reshape(-1)
    if not bool((message_targets != IGNORE).any()):
        return message_logits.new_zeros(())
    flat_logits = message_logits.reshape(-1, config.message_vocab)
    return F.cross_entropy(flat_logits, message_targets, ignore_index=IGNORE)


def imitation_loss(
    config: ForestConfig,
    action_logits: torch.Tensor,
    message_logits: torch.Tensor,
    record: RoundRecord,
    message_weight: float,
    label_sigma: float,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Loss of the heads' outputs against the expert's labels; returns (loss, log figures)."""
    n_classes = action_logits.shape[1]
    valid = torch.arange(n_classes)[None, :] < record.action_valid[:, None]
    action_logits = action_logits.masked_fill(~valid, float("-inf"))
    log_probs = F.log_softmax(action_logits, dim=1).masked_fill(~valid, 0.0)
    targets = ordinal_targets(record.action_target, valid, label_sigma)
    action_loss = -(targets * log_probs).sum(dim=1).mean()
    message_loss = message_imitation_loss(config, message_logits, record)
    loss = action_loss + message_weight * message_loss
    accuracy = (action_logits.argmax(dim=1) == record.action_target).float().mean()
    figures = {
        "loss": float(loss.detach()),
        "action_loss": float(action_loss.detach()),
        "message_loss": float(message_loss.detach()),
        "action_accuracy": float(accuracy),
    }
    return loss, figures


def forward_round(
    model: ForestModel, record: RoundRecord, memory: torch.Tensor | None
) -> ForestOutput:
    """The forest on one recorded round, remembering ``memory`` (the round before's summaries)."""
    return model(
        input_ids=record.input_ids,
        attention_mask=record.attention_mask,
        role_ids=record.role_ids,
        tree_ids=record.tree_ids,
        memory=memory,
    )


def round_loss(
    model: ForestModel,
    record: RoundRecord,
    memory: torch.Tensor | None,
    message_weight: float,
    label_sigma: float,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
    """Loss of one round; returns (loss, the round's summaries, figures for the log)."""
    out = forward_round(model, record, memory)
    loss, figures = imitation_loss(
        model.config, out.action_logits, out.message_logits, record, message_weight, label_sigma
    )
    return loss, out.summaries.detach(), figures


def epoch_order(
    episodes: list[EpisodeRecord], rng: np.random.Generator, interleave: bool
) -> list[tuple[int, int]]:
    """(episode, round) pairs in the order one epoch trains on them.

    Episodes come in a random order; each episode's rounds stay in play order, since a round's
    memory is the summaries of the round before.
    """
    shuffled = rng.permutation(len(episodes)).tolist()
    if not interleave:
        return [(e, t) for e in shuffled for t in range(len(episodes[e].rounds))]
    longest = max(len(episodes[e].rounds) for e in shuffled)
    return [(e, t) for t in range(longest) for e in shuffled if t < len(episodes[e].rounds)]


def cosine_learning_rate(base: float, step: int, total: int) -> float:
    return 0.5 * base * (1.0 + math.cos(math.pi * min(step, total) / total))


# (record, the episode's memory) -> (loss, the round's summaries, figures for the log)
RoundLoss = Callable[[RoundRecord, torch.Tensor | None], tuple[torch.Tensor, torch.Tensor, dict]]


def train_epoch(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    episodes: list[EpisodeRecord],
    rng: np.random.Generator,
    loss: RoundLoss,
    interleave: bool,
    on_step: Callable[[dict[str, float | str]], None],
    learning_rate: Callable[[], float] | None = None,
) -> None:
    """One pass over every gathered round, each optimiser step on one round of one episode."""
    model.train()
    memories: dict[int, torch.Tensor] = {}
    for e, t in epoch_order(episodes, rng, interleave):
        memory = memories.pop(e) if t > 0 else None
        value, memories[e], figures = loss(episodes[e].rounds[t], memory)
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        params = [p for group in optimizer.param_groups for p in group["params"]]
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        if learning_rate is not None:
            for group in optimizer.param_groups:
                group["lr"] = learning_rate()
        optimizer.step()
        on_step({"economy": episodes[e].economy, **figures})


def expert_config(train: TrainConfig, name: str) -> EconomyConfig | None:
    """The config whose expert labels economy ``name`` (None: the default's)."""
    preset = train.expert_presets.get(name)
    return None if preset is None else economy_class(name).config_class.preset(preset)


def gather(
    train: TrainConfig,
    iteration: int,
    model: ForestModel,
    tokenizer: AgentTokenizer,
) -> list[EpisodeRecord]:
    learner = None if iteration == 0 else ForestPolicy(model, tokenizer)
    share = train.expert_share**iteration
    episodes = []
    for e_index, name in enumerate(economy_names()):
        for k in range(train.episodes):
            seed = TRAIN_SEED_BASE + train.seed * 1000 + iteration * 100 + e_index * 10 + k
            episodes.append(
                collect_episode(
                    name,
                    seed,
                    train.n_agents,
                    train.rounds,
                    tokenizer,
                    model.config.n_actions,
                    learner,
                    share,
                    expert_config(train, name),
                )
            )
    return episodes


def steps_per_iteration(train: TrainConfig, iteration: int) -> int:
    episodes = (iteration + 1) * train.episodes * len(economy_names())
    return episodes * train.rounds * train.epochs


def initial_forest(train: TrainConfig) -> tuple[ForestModel, AgentTokenizer]:
    """Fresh weights and tokenizer, or those of the trained token forest in ``init_from``."""
    if train.init_from is None:
        return ForestModel(forest_config(train)), AgentTokenizer.fit_on_experts()
    policy = checkpoints.load_token_policy(
        Path(train.init_from), "training from it (init_from)", with_router=False
    )
    wanted = forest_config(train)
    for field in PRESETS[train.model_preset]:
        have, want = getattr(policy.model.config, field), getattr(wanted, field)
        if have != want:
            raise InvalidInputError(
                f"init_from: {train.init_from} is not a {train.model_preset} forest "
                f"({field} {have}, expected {want})"
            )
    return policy.model, policy.tokenizer


def init_digest(train: TrainConfig) -> str | None:
    """What the run started from, so that a resume onto other starting weights is refused."""
    return None if train.init_from is None else checkpoints.checkpoint_digest(Path(train.init_from))


def train_forest(
    train: TrainConfig,
    out: Path,
    on_step: Callable[[dict[str, float]], None] = lambda figures: None,
    on_phase: Callable[[str, int], None] = lambda phase, total: None,
) -> tuple[ForestPolicy, list[dict[str, float]]]:
    """Train (or resume training) the forest and its router into ``out``.

    Returns the trained policy and the loss log (one row per optimiser step).
    """
    with deterministic_threads(train.threads):
        return _train_forest(train, out, on_step, on_phase)


def _train_forest(
    train: TrainConfig,
    out: Path,
    on_step: Callable[[dict[str, float]], None],
    on_phase: Callable[[str, int], None],
) -> tuple[ForestPolicy, list[dict[str, float]]]:
    out = Path(out)
    if resume.has_training_state(out):
        model, tokenizer, optimizer, episodes, start, log = _resume(train, out)
    else:
        torch.manual_seed(train.seed)
        model, tokenizer = initial_forest(train)
        optimizer = torch.optim.AdamW(model.parameters(), lr=train.learning_rate)
        episodes, start, log = [], 0, []

    total_steps = sum(steps_per_iteration(train, i) for i in range(train.iterations))
    schedule = None
    if train.cosine_decay:

        def schedule() -> float:
            return cosine_learning_rate(train.learning_rate, len(log), total_steps)

    for iteration in range(start, train.iterations):
        torch.manual_seed(train.seed * 1000 + iteration)
        rng = np.random.default_rng([train.seed, iteration])
        title = f"iteration {iteration + 1}/{train.iterations}"
        on_phase(f"{title}: gathering episodes", 0)
        episodes += gather(train, iteration, model, tokenizer)
        on_phase(f"{title}: training", steps_per_iteration(train, iteration))

        def record(figures: dict[str, float], iteration: int = iteration) -> None:
            log.append({"step": len(log), "iteration": iteration, **figures})
            on_step(figures)

        adversary = np.random.default_rng([train.seed, iteration, ADVERSARY_STREAM])

        def labels_loss(
            actions: torch.Tensor, messages: torch.Tensor, labels: RoundRecord
        ) -> tuple:
            return imitation_loss(
                model.config, actions, messages, labels, train.message_weight, train.label_sigma
            )

        def loss(
            record: RoundRecord,
            memory: torch.Tensor | None,
            adversary: np.random.Generator = adversary,
        ) -> tuple:
            if train.adversarial_share > 0.0:
                return adversarial_round_loss(model, record, memory, train, labels_loss, adversary)
            return round_loss(model, record, memory, train.message_weight, train.label_sigma)

        for _ in range(train.epochs):
            train_epoch(
                model, optimizer, episodes, rng, loss, train.interleave_economies, record, schedule
            )
        if not math.isfinite(log[-1]["loss"]):
            raise TrainingError("training diverged: the loss is no longer finite")
        model.eval()
        checkpoints.save_policy(out, model, tokenizer, router=None)
        progress = {
            "iterations_done": iteration + 1,
            "train_config": train.to_dict(),
            INIT_DIGEST: init_digest(train),
            "log": log,
        }
        resume.save_training_state(out, optimizer, episodes, progress)

    on_phase("router: counterfactual labels", 0)
    labelled = router_dataset(train.router_agents, train.router_rounds, train.seed)
    router = train_router(*labelled, epochs=train.router_epochs, seed=train.seed)
    checkpoints.save_policy(out, model, tokenizer, router)
    resume.finish_training(out, {"train_config": train.to_dict(), "log": log})
    plot_loss_curve(log, out / LOSS_CURVE)
    return ForestPolicy(model, tokenizer, router), log


def _resume(
    train: TrainConfig, out: Path
) -> tuple[ForestModel, AgentTokenizer, torch.optim.Optimizer, list[EpisodeRecord], int, list]:
    policy = checkpoints.load_policy(out, with_router=False)
    model = policy.model
    optimizer = torch.optim.AdamW(model.parameters(), lr=train.learning_rate)
    episodes, progress = resume.load_training_state(out, optimizer)
    same_start = progress.get(INIT_DIGEST) == init_digest(train)
    if progress["train_config"] != train.to_dict() or not same_start:
        raise TrainingError(
            f"resume: {out} holds an unfinished run with another training config or starting "
            "checkpoint; train into a new --out folder"
        )
    return (
        model,
        policy.tokenizer,
        optimizer,
        episodes,
        progress["iterations_done"],
        progress["log"],
    )
