"""Adversarial training: the forest learns to keep honest agents' decisions while some of each
round's agents are compromised.

Each training round draws a share of its agents (uniform in ``[0, adversarial_share]``) as
compromised, and:

* their summary tokens get the worst perturbation PGD finds within an L2 budget (relative to the
  round's median summary norm, as ``latent-pgd`` measures it): the one that most raises the
  honest agents' imitation loss (Madry et al. 2018), climbed through the pooling the forest is
  deployed with (a robust escalation target trains through its trimmed mean);
* a share of the occupied message slots of the round (``adversarial_message_share``) carry
  random message tokens instead of what was sent: spoofed reports;

and the loss is the imitation loss of the honest agents alone, against the expert's decisions on
the true state. The compromised agents' own decisions are not trained on: they are the
attacker's.

Two simplifications, kept because the shipped ``checkpoints/large-robust`` was trained with
them: the compromised agents are drawn afresh every round, so an agent compromised last round
is honest this round with the perturbed summary as its memory (it learns to recover from a
poisoned memory, which a deployed attack with a fixed set never asks of it); and spoofed tokens
are drawn uniformly from the message vocabulary, so many are malformed (a digit where the kind
goes), easier to tell from the truth than the well-formed lies of ``spoofed-reports``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from forest.economy.messages import MESSAGE_LEN
from forest.economy.messages import VOCAB_SIZE as MESSAGE_VOCAB
from forest.model.modeling_forest import ForestModel
from forest.model.robust_aggregation import RobustAggregation
from forest.tokenizer import MESSAGE_SLOTS, MSG_OFFSET, PAD
from forest.training.config import TrainConfig
from forest.training.data import RoundRecord

STEP_SIZE = 0.25  # each PGD step, relative to the budget (latent-pgd's default)

# (action logits, message logits, labels of the same rows) -> (loss, figures for the log)
LabelsLoss = Callable[[torch.Tensor, torch.Tensor, RoundRecord], tuple[torch.Tensor, dict]]


def adversarial_round_loss(
    model: ForestModel,
    record: RoundRecord,
    memory: torch.Tensor | None,
    train: TrainConfig,
    labels_loss: LabelsLoss,
    rng: np.random.Generator,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
    """One round's loss with a drawn share compromised; returns (loss, the round's summaries,
    figures for the log), as ``behaviour_cloning.round_loss``."""
    n = record.input_ids.shape[0]
    compromised = draw_compromised(n, train.adversarial_share, rng)
    honest = ~compromised
    labels = honest_rows(record, honest)
    message_start = record.input_ids.shape[1] - MESSAGE_SLOTS * MESSAGE_LEN
    input_ids = spoof_messages(
        record.input_ids, message_start, train.adversarial_message_share, rng
    )
    summaries = model.encode(input_ids, record.attention_mask, record.role_ids, memory)

    def honest_loss(action_logits: torch.Tensor, message_logits: torch.Tensor) -> torch.Tensor:
        return labels_loss(action_logits[honest], message_logits[honest], labels)[0]

    delta = worst_delta(model, summaries, record, compromised, train, honest_loss, rng)
    out = model(
        encoded=summaries,
        tree_ids=record.tree_ids,
        summary_delta=delta,
        robust_aggregation=pooling(train),
    )
    loss, figures = labels_loss(out.action_logits[honest], out.message_logits[honest], labels)
    figures["compromised"] = float(compromised.float().mean())
    return loss, out.summaries.detach(), figures


def pooling(train: TrainConfig) -> RobustAggregation | None:
    """How the trained forest pools its tree slots in training: as it will be deployed."""
    if train.adversarial_pooling == "plain":
        return None
    return RobustAggregation(method=train.adversarial_pooling)


def draw_compromised(n: int, max_share: float, rng: np.random.Generator) -> torch.Tensor:
    """(n,) bool: a uniform share in ``[0, max_share]`` of the agents, at least one."""
    k = max(1, round(rng.uniform(0.0, max_share) * n))
    chosen = np.zeros(n, dtype=bool)
    chosen[rng.choice(n, size=min(k, n - 1), replace=False)] = True
    return torch.from_numpy(chosen)


def spoof_messages(
    input_ids: torch.Tensor, message_start: int, share: float, rng: np.random.Generator
) -> torch.Tensor:
    """``input_ids`` with ``share`` of the occupied message tokens replaced by random ones."""
    if share == 0.0:
        return input_ids
    slots = input_ids[:, message_start:]
    occupied = (slots != PAD).numpy()
    spoofed = occupied & (rng.random(occupied.shape) < share)
    fake = torch.from_numpy(rng.integers(0, MESSAGE_VOCAB, size=occupied.shape)) + MSG_OFFSET
    out = input_ids.clone()
    out[:, message_start:] = torch.where(torch.from_numpy(spoofed), fake, slots)
    return out


def honest_rows(record: RoundRecord, honest: torch.Tensor) -> RoundRecord:
    """The round's labels restricted to the honest agents (the loss's rows)."""
    return RoundRecord(
        input_ids=record.input_ids[honest],
        attention_mask=record.attention_mask[honest],
        role_ids=record.role_ids[honest],
        tree_ids=record.tree_ids[honest],
        action_target=record.action_target[honest],
        action_valid=record.action_valid[honest],
        message_target=record.message_target[honest],
    )


def worst_delta(
    model: ForestModel,
    summaries: torch.Tensor,
    record: RoundRecord,
    compromised: torch.Tensor,
    train: TrainConfig,
    loss_of_logits: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    rng: np.random.Generator,
) -> torch.Tensor:
    """(n, d) the PGD perturbation of the compromised summaries that most raises the honest
    agents' loss, zero elsewhere; found on detached summaries with the weights held fixed."""
    summaries = summaries.detach()
    radius = train.adversarial_epsilon * float(torch.linalg.vector_norm(summaries, dim=1).median())
    k, d = int(compromised.sum()), summaries.shape[1]
    ids = torch.nonzero(compromised).squeeze(1)
    start = torch.from_numpy(rng.standard_normal((k, d))).float() * radius / np.sqrt(d)
    rows = _project(start, radius).requires_grad_(True)
    robust = pooling(train)
    for _ in range(train.adversarial_steps):
        perturbed = summaries.index_add(0, ids, rows)
        context, _ = model.aggregate_with_attention(perturbed, record.tree_ids, None, robust)
        action_logits, message_logits, _ = model.heads(perturbed, context)
        (grad,) = torch.autograd.grad(loss_of_logits(action_logits, message_logits), rows)
        step = grad / torch.linalg.vector_norm(grad, dim=1, keepdim=True).clamp_min(1e-12)
        rows = _project(rows.detach() + STEP_SIZE * radius * step, radius).requires_grad_(True)
    delta = torch.zeros_like(summaries)
    delta[ids] = rows.detach()
    return delta


def _project(rows: torch.Tensor, radius: float) -> torch.Tensor:
    norms = torch.linalg.vector_norm(rows, dim=1, keepdim=True)
    return rows * torch.clamp(radius / norms.clamp_min(1e-12), max=1.0)
