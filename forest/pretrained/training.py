"""Fitting the pretrained forest to the economies: behaviour cloning with the LM frozen.

The language model is frozen and the forest's memory enters after it, so an agent's prompt
states depend on its prompt alone: every gathered round goes through the LM once, and training
reads the cached states (``training/prompt_states.safetensors``, half precision: about 100 KB a
prompt; a killed run keeps what it had computed). The expensive part on a CPU is that one LM
pass; the forest on top then trains in tens of seconds per epoch.

One DAgger iteration only (the experts' own trajectories): a learner rollout would pass every
state through the LM twice more. The forest on top trains with the same loss, interleaved
economy schedule and cosine-annealed rate as the large preset.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from forest.checkpoints import save_pretrained_policy
from forest.economy import economy_names
from forest.errors import ConfigError
from forest.policy import ForestPolicy
from forest.pretrained.language_model import language_model_digest, load_language_model
from forest.pretrained.modeling import PretrainedForest, PretrainedForestConfig
from forest.pretrained.prompts import MAX_PROMPT_TOKENS, PromptTokenizer
from forest.training.behaviour_cloning import (
    TRAIN_SEED_BASE,
    cosine_learning_rate,
    imitation_loss,
    train_epoch,
)
from forest.training.data import EpisodeRecord, RoundRecord, collect_episode
from forest.training.determinism import deterministic_threads
from forest.training.plots import plot_loss_curve
from forest.training.resume import TRAIN_LOG
from forest.training.router_training import router_dataset, train_router
from forest.validation import require_float, require_int

STATES = "prompt_states.safetensors"


@dataclasses.dataclass
class PromptRound(RoundRecord):
    """A gathered round with its agents' prompt states ``(n, T, H)`` from the frozen LM."""

    prompt_states: torch.Tensor | None = None


@dataclasses.dataclass(frozen=True)
class PretrainedTrainConfig:
    """Behaviour cloning of the forest on top of a frozen LM. ``forest_preset`` is the shape of
    the forest on top (``small`` matches the shipped trained-from-scratch forest)."""

    forest_preset: str = "small"
    # The LM layers read: the first 10 of SmolLM2's 30 carry the prompt's numbers as well as all
    # 30 (experiments/prompt_probe.py) at a third of the cost.
    prompt_layers: int = 10
    # 60 agents x 20 rounds x 2 episodes x 3 economies = 7,200 prompts through the LM.
    n_agents: int = 60
    rounds: int = 20
    episodes: int = 2
    epochs: int = 40
    learning_rate: float = 1e-3
    message_weight: float = 0.5
    label_sigma: float = 1.0
    max_prompt_tokens: int = MAX_PROMPT_TOKENS
    router_agents: int = 60
    router_rounds: int = 20
    router_epochs: int = 200
    seed: int = 0
    threads: int = 1

    def __post_init__(self) -> None:
        if self.forest_preset not in ("tiny", "small", "large"):
            raise ConfigError(
                f"forest_preset: expected tiny, small or large, got {self.forest_preset!r}"
            )
        require_int(self.prompt_layers, "prompt_layers", 1, 1000)
        require_int(self.n_agents, "n_agents", 20, 100_000)
        if self.n_agents % 10:
            raise ConfigError(f"n_agents: expected a multiple of 10, got {self.n_agents}")
        require_int(self.rounds, "rounds", 2, 10_000)
        require_int(self.episodes, "episodes", 1, 1000)
        require_int(self.epochs, "epochs", 1, 10_000)
        require_float(self.learning_rate, "learning_rate", 0.0, 1.0, low_open=True)
        require_float(self.message_weight, "message_weight", 0.0, 100.0)
        require_float(self.label_sigma, "label_sigma", 0.0, 100.0)
        require_int(self.max_prompt_tokens, "max_prompt_tokens", 8, 8192)
        require_int(self.router_agents, "router_agents", 20, 10_000)
        require_int(self.router_rounds, "router_rounds", 1, 1000)
        require_int(self.router_epochs, "router_epochs", 1, 100_000)
        require_int(self.seed, "seed", 0)
        require_int(self.threads, "threads", 1, 256)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def gather_expert_episodes(
    train: PretrainedTrainConfig, tokenizer: PromptTokenizer, n_actions: int
) -> list[EpisodeRecord]:
    episodes = []
    for e_index, name in enumerate(economy_names()):
        for k in range(train.episodes):
            seed = TRAIN_SEED_BASE + train.seed * 1000 + e_index * 10 + k
            episodes.append(
                collect_episode(name, seed, train.n_agents, train.rounds, tokenizer, n_actions)
            )
    return episodes


@torch.no_grad()
def cached_prompt_states(
    model: PretrainedForest,
    episodes: list[EpisodeRecord],
    cache: Path,
    on_round: Callable[[], None],
) -> list[list[torch.Tensor]]:
    """Every round's prompt states ``(n, T, H)`` in half precision, from ``cache`` where a killed
    run left them."""
    done = load_file(cache) if cache.is_file() else {}
    states = []
    for e, episode in enumerate(episodes):
        per_round = []
        for t, record in enumerate(episode.rounds):
            key = f"{e}.{t}"
            if key not in done:
                computed = model.prompt_states(record.input_ids, record.attention_mask)
                done[key] = computed.half()
                if t == len(episode.rounds) - 1:  # save once per episode: a full file per save
                    save_file(done, cache)
            per_round.append(done[key])
            on_round()
        states.append(per_round)
    save_file(done, cache)
    return states


def train_pretrained_forest(
    train: PretrainedTrainConfig,
    language_model_dir: Path,
    out: Path,
    on_phase: Callable[[str, int], None] = lambda phase, total: None,
    on_step: Callable[[], None] = lambda: None,
) -> tuple[ForestPolicy, list[dict[str, Any]]]:
    """Fit the frozen-LM forest by cloning over cached prompt states, then its router, into
    ``out`` (resuming an unfinished run there)."""
    with deterministic_threads(train.threads):
        return _train_pretrained_forest(train, language_model_dir, out, on_phase, on_step)


def _train_pretrained_forest(
    train: PretrainedTrainConfig,
    language_model_dir: Path,
    out: Path,
    on_phase: Callable[[str, int], None],
    on_step: Callable[[], None],
) -> tuple[ForestPolicy, list[dict[str, Any]]]:
    out = Path(out)
    (out / "training").mkdir(parents=True, exist_ok=True)
    settings = out / "training" / "train_config.json"
    if settings.is_file() and json.loads(settings.read_text()) != train.to_dict():
        raise ConfigError(
            f"{out} holds an unfinished run with another training config; use a new --out"
        )
    settings.write_text(json.dumps(train.to_dict()))

    language_model = load_language_model(language_model_dir, layers=train.prompt_layers)
    tokenizer = PromptTokenizer.load(language_model_dir, train.max_prompt_tokens)
    config = PretrainedForestConfig.on_top_of(
        language_model,
        train.forest_preset,
        max_prompt_tokens=train.max_prompt_tokens,
        language_model_digest=language_model_digest(language_model_dir),
    )
    torch.manual_seed(train.seed)
    model = PretrainedForest(config, language_model)

    on_phase("gathering expert episodes", 0)
    episodes = gather_expert_episodes(train, tokenizer, config.n_actions)
    total_rounds = sum(len(e.rounds) for e in episodes)
    on_phase("prompt states through the language model", total_rounds)
    states = cached_prompt_states(model, episodes, out / "training" / STATES, on_step)

    steps = train.epochs * total_rounds
    on_phase("training the forest on top", steps)
    cached = [
        EpisodeRecord(
            episode.economy,
            episode.seed,
            [
                PromptRound(**vars(r), prompt_states=h)
                for r, h in zip(episode.rounds, per_round, strict=True)
            ],
        )
        for episode, per_round in zip(episodes, states, strict=True)
    ]

    def loss(record: PromptRound, memory: torch.Tensor | None) -> tuple:
        summaries = model.summarize(
            record.prompt_states.float(), record.attention_mask, record.role_ids, memory
        )
        context = model.aggregate(summaries, record.tree_ids)
        actions, messages, _ = model.heads(summaries, context)
        value, figures = imitation_loss(
            config, actions, messages, record, train.message_weight, train.label_sigma
        )
        return value, summaries.detach(), figures

    def record_step(figures: dict[str, Any]) -> None:
        log.append({"step": len(log), **figures})
        on_step()

    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=train.learning_rate
    )
    rng = np.random.default_rng([train.seed, 0])
    log: list[dict[str, Any]] = []
    for _ in range(train.epochs):
        train_epoch(
            model,
            optimizer,
            cached,
            rng,
            loss,
            interleave=True,
            on_step=record_step,
            learning_rate=lambda: cosine_learning_rate(train.learning_rate, len(log), steps),
        )
    model.eval()

    on_phase("router: counterfactual labels", 0)
    labelled = router_dataset(train.router_agents, train.router_rounds, train.seed)
    router = train_router(*labelled, epochs=train.router_epochs, seed=train.seed)
    save_pretrained_policy(out, model, language_model_dir, router)
    (out / TRAIN_LOG).write_text(json.dumps({"train_config": train.to_dict(), "log": log}))
    plot_loss_curve(log, out / "loss_curve.png", "pretrained forest: cloning over a frozen LM")
    for name in (STATES, "train_config.json"):
        (out / "training" / name).unlink(missing_ok=True)
    (out / "training").rmdir()
    return ForestPolicy(model, tokenizer, router), log
