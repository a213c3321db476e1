"""The pretrained forest's own router: trained on the messages that change *its* decisions.

A message is labelled "keep" when withholding it changes its receiver's decision under this
forest, not under the expert (the frozen-LM forest's router, trained on the expert's, cost it 17
points of exchange completion). The keep threshold is then calibrated on episodes of its own
(``forest.training.router_training.calibrate_threshold``): single-message labels miss messages
that matter only together, and a router that keeps too little costs the forest its job.

``route_checkpoint`` runs all of it on a saved forest, the same function adaptation ends with,
so a router can be retrained without fitting the forest again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from forest.actions import valid_classes
from forest.checkpoints import load_pretrained_policy, save_router
from forest.economy import (
    Economy,
    Messages,
    economies_counted,
    economy_names,
    make_economy,
)
from forest.errors import ConfigError
from forest.policy import ForestPolicy, decode_actions
from forest.pretrained.prompts import render_prompts
from forest.router import Router
from forest.training.determinism import deterministic_threads
from forest.training.resume import TRAIN_LOG
from forest.training.router_training import LABEL_SEED_BASE, calibrate_threshold, train_router
from forest.validation import require_int


@torch.no_grad()
def counterfactual_decisions(
    policy: ForestPolicy, economy: Economy, withheld: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """This round's action class of each withheld message's receiver, with every message
    delivered and with that one message withheld: ``(with, without)``, both ``(M,)``.

    Withholding a message changes its receiver's prompt alone; the others' summaries and the
    memory stay as they are, so each counterfactual re-encodes the receiver, with and without
    the message in one batch, and re-runs the aggregation and the heads. One batch because a
    batch's padding and shape move the last bits of a state, and near a tie that alone would
    flip a decision and label a message that changed nothing.
    A message the receiver's prompt does not show (it shows the first few) changes nothing.
    """
    model = policy.model
    inbox = economy.inbox
    inputs = policy.model_inputs(economy)
    summaries = model.encode(
        inputs["input_ids"], inputs["attention_mask"], inputs["role_ids"], inputs["memory"]
    )
    valid = torch.from_numpy(valid_classes(economy, model.config.n_actions))

    def decision(receiver: int, summary: torch.Tensor) -> int:
        edited = summaries.clone()
        edited[receiver] = summary
        actions, _, _ = model.heads(edited, model.aggregate(edited, inputs["tree_ids"]))
        return int(decode_actions(actions, valid)[0][receiver])

    receivers = inbox.receiver[withheld]
    everything = render_prompts(economy, inbox)
    held_back = [
        render_prompts(economy, inbox.select(np.arange(len(inbox)) != j))[r]
        for j, r in zip(withheld.tolist(), receivers.tolist(), strict=True)
    ]
    shown = [everything[r] != p for r, p in zip(receivers.tolist(), held_back, strict=True)]
    tokens = policy.tokenizer.tokenize([everything[r] for r in receivers.tolist()] + held_back)
    both = np.concatenate([receivers, receivers])
    memory = None if inputs["memory"] is None else inputs["memory"][both]
    alone = model.encode(
        torch.from_numpy(tokens.input_ids),
        torch.from_numpy(tokens.attention_mask),
        inputs["role_ids"][both],
        memory,
    )
    m_total = len(withheld)
    with_all = np.empty(m_total, dtype=np.int64)
    without = np.empty(m_total, dtype=np.int64)
    for m, r in enumerate(receivers.tolist()):
        with_all[m] = decision(r, alone[m])
        without[m] = decision(r, alone[m_total + m]) if shown[m] else with_all[m]
    return with_all, without


def own_router_dataset(
    policy: ForestPolicy,
    n_agents: int,
    rounds: int,
    seed: int,
    per_round: int = 48,
    economies: tuple[str, ...] | None = None,
) -> tuple[Messages, np.ndarray, np.ndarray]:
    """(messages, sender/receiver roles (M, 2), labels (M,)) from the ``economies`` (default:
    every one) played by ``policy`` with every message delivered: a message is labelled "keep"
    when withholding it changes its receiver's decision under this forest."""
    rng = np.random.default_rng([seed, 3])
    batches, roles, labels = [], [], []
    for name in economy_names() if economies is None else economies:
        economy = make_economy(name, LABEL_SEED_BASE + seed, n_agents=n_agents)
        policy.reset()
        for _ in range(rounds):
            inbox = economy.inbox
            if len(inbox):
                sample = np.sort(rng.choice(len(inbox), min(per_round, len(inbox)), replace=False))
                with_all, without = counterfactual_decisions(policy, economy, sample)
                chosen = inbox.select(sample)
                batches.append(chosen)
                roles.append(
                    np.stack([economy.role[chosen.sender], economy.role[chosen.receiver]], 1)
                )
                labels.append(with_all != without)
            step = policy.act(economy)
            economy.step(step.actions, step.messages)
    return Messages.concat(*batches), np.concatenate(roles), np.concatenate(labels)


def own_router(
    policy: ForestPolicy,
    n_agents: int,
    rounds: int,
    epochs: int,
    seed: int,
    economies: tuple[str, ...] | None = None,
) -> tuple[Router, dict[str, Any]]:
    """Label, train and calibrate this forest's router (``policy`` carries none) on the
    ``economies`` it was fitted to (default: every one); returns the router and what its
    training log records about it."""
    unrouted = ForestPolicy(policy.model, policy.tokenizer)
    labelled = own_router_dataset(unrouted, n_agents, rounds, seed, economies=economies)
    router = train_router(*labelled, epochs=epochs, seed=seed)
    threshold, checks = calibrate_threshold(
        unrouted, router, n_agents, rounds, seed, economies=economies
    )
    router.threshold = threshold
    kept = float(np.mean(labelled[2])) if len(labelled[2]) else 0.0
    return router, {
        "router_keep_labels": kept,
        "router_threshold": threshold,
        "router_calibration": checks,
    }


def route_checkpoint(
    checkpoint: Path, language_model_dir: Path | None = None, threads: int | None = None
) -> dict[str, Any]:
    """Retrain an adapted checkpoint's router in place, with the router settings and threads
    its training log records (``forest pretrained route``); returns the log's router entries.
    ``language_model_dir`` defaults to the LM the checkpoint records."""
    checkpoint = Path(checkpoint)
    log_path = checkpoint / TRAIN_LOG
    try:
        log = json.loads(log_path.read_text())
        train = log["train_config"]
        if "lora_layers" not in train:
            raise KeyError("lora_layers: not an adapted forest")
        agents, rounds, epochs, seed, recorded = (
            train[k] for k in ("router_agents", "router_rounds", "router_epochs", "seed", "threads")
        )
        if not isinstance(log["log"], list):
            raise TypeError("log: expected the training steps")
        # The economies it was adapted to: those that gathered episodes (a log without the
        # table gathered every one).
        economies = economies_counted(
            train.get("economy_episodes", {}), train["episodes"], "train_config.economy_episodes"
        )
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ConfigError(
            f"{checkpoint}: expected a forest from `forest pretrained adapt` (its {TRAIN_LOG} "
            f"with the router settings): {err}"
        ) from err
    require_int(agents, "train_config.router_agents", 20, 10_000)
    require_int(rounds, "train_config.router_rounds", 2, 1000)
    require_int(epochs, "train_config.router_epochs", 1, 100_000)
    require_int(seed, "train_config.seed", 0)
    threads = recorded if threads is None else threads
    require_int(threads, "threads", 1, 256)
    with deterministic_threads(threads):
        policy = load_pretrained_policy(checkpoint, language_model_dir, with_router=False)
        router, figures = own_router(policy, agents, rounds, epochs, seed, economies)
    save_router(checkpoint, router)
    # Laid out as adapt writes it, so that routing an adapted forest gives adapt's bytes.
    log_path.write_text(json.dumps({"train_config": train, "log": log["log"], **figures}))
    return figures
