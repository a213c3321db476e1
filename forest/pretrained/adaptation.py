"""Adapting SmolLM2 to the economies: LoRA on the layers the forest reads, with DAgger.

The frozen-LM forest (``forest.pretrained.training``) clones the experts over cached LM states,
one DAgger iteration, and fails the supply chain. Here the last ``lora_layers`` of the layers
read carry LoRA adapters (``peft``) that train with the forest on top, and DAgger iterations
gather the learner's own states: iteration 0 from the experts, iteration i with each agent
following the expert with probability ``expert_share ** i`` (``collect_episode``), every round
labelled with the expert's action and message. Each iteration first trains the forest on top
alone over everything gathered (cheap steps), then adapters and forest together over the
iteration's new rounds (each step a backward pass through the adapted layers).

What it costs on a CPU: an agent-round's LM pass. The layers below the adapters depend on the
prompt alone, so their states are computed once per gathered round (``frozen_states``, kept in
memory in float32, the precision play uses); each step then runs only the adapted layers, the
forest and their backward pass.

The router is this forest's own (``forest.pretrained.own_router``): trained on the messages that
change *its* decisions, its keep threshold calibrated so that routing does not cost it its job.

Deterministic: the same config gives the same bytes (tests/forest/pretrained/test_adaptation.py).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from forest.checkpoints import save_pretrained_policy
from forest.economy import economies_counted, economy_names, require_economy_table
from forest.errors import ConfigError
from forest.policy import ForestPolicy
from forest.pretrained.language_model import language_model_digest, load_language_model
from forest.pretrained.modeling import PretrainedForest, PretrainedForestConfig
from forest.pretrained.own_router import own_router
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
from forest.validation import require_float, require_int


@dataclasses.dataclass
class FrozenRound(RoundRecord):
    """A gathered round with its prompts' states below the adapters ``(n, T, H)``."""

    frozen: torch.Tensor | None = None


@dataclasses.dataclass(frozen=True)
class AdaptConfig:
    """LoRA + DAgger fitting of the forest over SmolLM2's first ``prompt_layers`` layers."""

    forest_preset: str = "small"
    # The LM layers read, the last ``lora_layers`` of them adapted. Four, not the frozen forest's
    # ten: a round at 256 agents costs 3 s through four layers against 8 s through ten, and the
    # adapters can reshape what the last layers pass on.
    prompt_layers: int = 4
    lora_layers: int = 2
    lora_rank: int = 8
    lora_alpha: float = 16.0
    iterations: int = 3
    expert_share: float = 0.5
    n_agents: int = 60
    rounds: int = 20
    episodes: int = 2  # per economy and iteration
    # Other episode counts for the economies named; 0 leaves an economy out (a forest fitted to the
    # others alone, its router labelled and calibrated on them alone): exchange=0, pricing=0,
    # supply_chain=6 with seed 1 fits checkpoints/pretrained-lora-supply-chain, within the supply
    # chain's bars on every seed's point estimate (the welfare verdict unclear at 3 seeds) where the
    # forest fitted to all three fails them. Not in a forest fitted to every economy: four supply-
    # chain episodes per iteration (the proxy experiments/supply_chain_cloning_proxy.py had halved a
    # supplier's held-out order error with more episodes) did worse in both economies it touched,
    # with every message on the router's 60-agent calibration episodes: supply-chain completion
    # 0.444 against 0.516, the exchange's 0.558 against 0.971.
    economy_episodes: dict[str, int] = dataclasses.field(default_factory=dict)
    # Of each economy's episodes per iteration, the last ``large_episodes`` gather at
    # ``large_agents`` agents instead of ``n_agents`` (0: none). The supply-chain forest fitted at
    # 60 agents alone with seed 0 costs 6-7% more than the expert at 60 and 120 agents but 24% more
    # at 260 (point estimates, 3 seeds; with seed 1, 2.5% more at 260); fitting on 260-agent
    # episodes alone, at a third of the steps, did worse. A few large episodes among the small ones
    # keep the step count and show the forest larger economies, at the larger episodes' cost per
    # step and in memory. One run with one 260-agent episode in six cost three times the expert at
    # 260 agents (docs/results.md).
    large_agents: int = 0
    large_episodes: int = 1
    # Per iteration: first ``forest_epochs`` passes over everything gathered that train the
    # forest on top alone (states through the adapters computed once: 0.3 s a step), then
    # ``epochs`` passes over the iteration's new rounds that train adapters and forest together
    # (the adapted layers' backward pass: 1.7 s a step at 60 agents).
    forest_epochs: int = 4
    epochs: int = 1
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
        require_int(self.lora_layers, "lora_layers", 1, self.prompt_layers)
        require_int(self.lora_rank, "lora_rank", 1, 1024)
        require_float(self.lora_alpha, "lora_alpha", 0.0, 1e4, low_open=True)
        # At most 9 iterations and 9 episodes: their digits name the gathered episodes' seeds.
        require_int(self.iterations, "iterations", 1, 9)
        require_float(self.expert_share, "expert_share", 0.0, 1.0)
        require_int(self.n_agents, "n_agents", 20, 100_000)
        if self.n_agents % 10:
            raise ConfigError(f"n_agents: expected a multiple of 10, got {self.n_agents}")
        require_int(self.rounds, "rounds", 2, 10_000)
        require_int(self.episodes, "episodes", 1, 9)
        require_economy_table(self.economy_episodes, "economy_episodes")
        for name, count in self.economy_episodes.items():
            require_int(count, f"economy_episodes[{name}]", 0, 9)
        # Economy order, not the order given: the same table gives the same checkpoint bytes.
        ordered = {
            name: self.economy_episodes[name]
            for name in economy_names()
            if name in self.economy_episodes
        }
        object.__setattr__(self, "economy_episodes", ordered)
        economies_counted(self.economy_episodes, self.episodes, "economy_episodes")
        require_int(self.large_agents, "large_agents", 0, 100_000)
        require_int(self.large_episodes, "large_episodes", 1, 9)
        if self.large_agents:
            if self.large_agents <= self.n_agents or self.large_agents % 10:
                raise ConfigError(
                    f"large_agents: expected a multiple of 10 above n_agents ({self.n_agents}), "
                    f"got {self.large_agents}"
                )
            fewest = min(self.economies, key=self.episodes_of)
            if self.large_episodes >= self.episodes_of(fewest):
                raise ConfigError(
                    f"large_episodes: expected fewer than the fewest episodes an economy gathers "
                    f"per iteration ({fewest}: {self.episodes_of(fewest)}), so that every economy "
                    f"also gathers at n_agents; got {self.large_episodes}"
                )
        elif self.large_episodes != 1:
            raise ConfigError("large_episodes: needs large_agents above 0")
        require_int(self.forest_epochs, "forest_epochs", 0, 10_000)
        require_int(self.epochs, "epochs", 1, 10_000)
        require_float(self.learning_rate, "learning_rate", 0.0, 1.0, low_open=True)
        require_float(self.message_weight, "message_weight", 0.0, 100.0)
        require_float(self.label_sigma, "label_sigma", 0.0, 100.0)
        require_int(self.max_prompt_tokens, "max_prompt_tokens", 8, 8192)
        require_int(self.router_agents, "router_agents", 20, 10_000)
        require_int(self.router_rounds, "router_rounds", 2, 1000)
        require_int(self.router_epochs, "router_epochs", 1, 100_000)
        require_int(self.seed, "seed", 0)
        require_int(self.threads, "threads", 1, 256)

    def to_dict(self) -> dict[str, Any]:
        fields = dataclasses.asdict(self)
        # As logs written before these fields, when they are unused: the same bytes.
        if not self.economy_episodes:
            del fields["economy_episodes"]
        if not self.large_agents:
            del fields["large_agents"], fields["large_episodes"]
        return fields

    def episodes_of(self, name: str) -> int:
        """Episodes economy ``name`` gathers per iteration."""
        return self.economy_episodes.get(name, self.episodes)

    def agents_of(self, name: str, k: int) -> int:
        """Agents in economy ``name``'s ``k``-th episode of an iteration."""
        large = self.large_agents and k >= self.episodes_of(name) - self.large_episodes
        return self.large_agents if large else self.n_agents

    @property
    def economies(self) -> tuple[str, ...]:
        """The economies the forest is adapted to: those that gather episodes."""
        return economies_counted(self.economy_episodes, self.episodes, "economy_episodes")


@dataclasses.dataclass
class AdaptedRound(RoundRecord):
    """A gathered round with its prompt states through the current adapters ``(n, T, H)``."""

    states: torch.Tensor | None = None


@torch.no_grad()
def through_adapters(model: PretrainedForest, episodes: list[EpisodeRecord]) -> list[EpisodeRecord]:
    """Every gathered round's prompt states through the adapters as they now are, for the
    forest-only epochs (the adapters do not move in them, so the states are computed once)."""
    out = []
    for episode in episodes:
        rounds = []
        for r in episode.rounds:
            fields = {f.name: getattr(r, f.name) for f in dataclasses.fields(RoundRecord)}
            states = model.adapted_states(r.frozen, r.attention_mask)
            rounds.append(AdaptedRound(**fields, states=states))
        out.append(EpisodeRecord(episode.economy, episode.seed, rounds))
    return out


def adapted_forest(train: AdaptConfig, language_model_dir: Path) -> PretrainedForest:
    """Fresh forest weights and zero-initialised adapters (``lora_B`` starts at 0: the adapted
    LM begins as the pretrained one) over the first ``prompt_layers`` layers."""
    language_model = load_language_model(language_model_dir, layers=train.prompt_layers)
    config = PretrainedForestConfig.on_top_of(
        language_model,
        train.forest_preset,
        max_prompt_tokens=train.max_prompt_tokens,
        language_model_digest=language_model_digest(language_model_dir),
        lora_rank=train.lora_rank,
        lora_alpha=train.lora_alpha,
        lora_layers=train.lora_layers,
    )
    torch.manual_seed(train.seed)
    return PretrainedForest(config, language_model)


def gather(
    train: AdaptConfig, iteration: int, model: PretrainedForest, tokenizer: PromptTokenizer
) -> list[EpisodeRecord]:
    """Iteration ``iteration``'s episodes of every economy adapted to, each round with its
    frozen states."""
    learner = None if iteration == 0 else ForestPolicy(model, tokenizer)

    def frozen(r: RoundRecord) -> torch.Tensor:
        return model.frozen_states(r.input_ids, r.attention_mask)

    share = train.expert_share**iteration
    episodes = []
    for e_index, name in enumerate(economy_names()):
        for k in range(train.episodes_of(name)):
            seed = TRAIN_SEED_BASE + train.seed * 1000 + iteration * 100 + e_index * 10 + k
            episode = collect_episode(
                name,
                seed,
                train.agents_of(name, k),
                train.rounds,
                tokenizer,
                model.config.n_actions,
                learner,
                share,
            )
            with torch.no_grad():
                rounds = [FrozenRound(**vars(r), frozen=frozen(r)) for r in episode.rounds]
            episodes.append(EpisodeRecord(name, seed, rounds))
    return episodes


def adapt_pretrained_forest(
    train: AdaptConfig,
    language_model_dir: Path,
    out: Path,
    on_phase: Callable[[str, int], None] = lambda phase, total: None,
    on_step: Callable[[], None] = lambda: None,
) -> tuple[ForestPolicy, list[dict[str, Any]]]:
    """Fit the adapters and the forest by DAgger, then its own router; save to ``out``."""
    with deterministic_threads(train.threads):
        return _adapt(train, language_model_dir, Path(out), on_phase, on_step)


def _adapt(
    train: AdaptConfig,
    language_model_dir: Path,
    out: Path,
    on_phase: Callable[[str, int], None],
    on_step: Callable[[], None],
) -> tuple[ForestPolicy, list[dict[str, Any]]]:
    tokenizer = PromptTokenizer.load(language_model_dir, train.max_prompt_tokens)
    model = adapted_forest(train, language_model_dir)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=train.learning_rate)
    new_rounds = sum(map(train.episodes_of, economy_names())) * train.rounds  # per iteration
    forest_steps = [train.forest_epochs * new_rounds * (i + 1) for i in range(train.iterations)]
    joint_steps = train.epochs * new_rounds
    total_steps = sum(forest_steps) + joint_steps * train.iterations

    def heads_loss(record: FrozenRound, states: torch.Tensor, memory: torch.Tensor | None):
        summaries = model.summarize(states, record.attention_mask, record.role_ids, memory)
        context = model.aggregate(summaries, record.tree_ids)
        actions, messages, _ = model.heads(summaries, context)
        value, figures = imitation_loss(
            model.config, actions, messages, record, train.message_weight, train.label_sigma
        )
        return value, summaries.detach(), figures

    def joint_loss(record: FrozenRound, memory: torch.Tensor | None) -> tuple:
        return heads_loss(
            record, model.adapted_states(record.frozen, record.attention_mask), memory
        )

    def forest_loss(record: AdaptedRound, memory: torch.Tensor | None) -> tuple:
        return heads_loss(record, record.states, memory)

    def schedule() -> float:
        return cosine_learning_rate(train.learning_rate, len(log), total_steps)

    log: list[dict[str, Any]] = []
    episodes: list[EpisodeRecord] = []
    for iteration in range(train.iterations):
        torch.manual_seed(train.seed * 1000 + iteration)
        rng = np.random.default_rng([train.seed, iteration])
        title = f"iteration {iteration + 1}/{train.iterations}"
        on_phase(f"{title}: gathering episodes", 0)
        new = gather(train, iteration, model, tokenizer)
        episodes += new

        def record(figures: dict[str, Any], phase: str, iteration: int = iteration) -> None:
            log.append({"step": len(log), "iteration": iteration, "phase": phase, **figures})
            on_step()

        if train.forest_epochs:
            on_phase(f"{title}: the forest on top", forest_steps[iteration])
            adapted = through_adapters(model, episodes)
            for _ in range(train.forest_epochs):
                train_epoch(
                    model,
                    optimizer,
                    adapted,
                    rng,
                    forest_loss,
                    interleave=True,
                    on_step=lambda f: record(f, "forest"),
                    learning_rate=schedule,
                )
            del adapted
        on_phase(f"{title}: adapters and forest", joint_steps)
        for _ in range(train.epochs):
            train_epoch(
                model,
                optimizer,
                new,
                rng,
                joint_loss,
                interleave=True,
                on_step=lambda f: record(f, "joint"),
                learning_rate=schedule,
            )
        model.eval()

    on_phase("router: this forest's counterfactual labels and keep threshold", 0)
    router, router_figures = own_router(
        ForestPolicy(model, tokenizer),
        train.router_agents,
        train.router_rounds,
        train.router_epochs,
        train.seed,
        train.economies,
    )
    save_pretrained_policy(out, model, language_model_dir, router)
    (out / TRAIN_LOG).write_text(
        json.dumps({"train_config": train.to_dict(), "log": log, **router_figures})
    )
    plot_loss_curve(log, out / "loss_curve.png", "pretrained forest: LoRA + DAgger on SmolLM2")
    return ForestPolicy(model, tokenizer, router), log
