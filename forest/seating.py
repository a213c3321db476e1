"""Who shares the forest's latent in a market of rival firms: three seatings of one pricing forest.

In a forest-played market every competing firm is decided by the same model, and a market is a
tree, so each firm's context pools its rivals' summaries of the very round in which they all
choose prices: competitors who delegate pricing to one algorithm (hub and spoke). The seatings
take that apart one piece at a time:

- ``shared``: one model, one forward over every firm, as the forest is built;
- ``masked``: one model, but the firms of each seat (firm 0 of every market, then firm 1, ...)
  are decided in a forward of their own, so no firm's context holds a rival's summary; rivals
  reach a firm only through what the market makes public (last prices, quoted prices);
- ``independent``: as ``masked``, with a model of its own for each seat (trained apart).

A firm's context in the masked seatings still pools the same seat's firms of other markets:
those are not its rivals (markets are independent), and the shared seating pools them too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from forest import checkpoints
from forest.economy import Economy
from forest.errors import InvalidInputError
from forest.model.config import ForestConfig
from forest.model.modeling_forest import ForestModel, ForestOutput
from forest.policy import ForestPolicy
from forest.tokenizer import Tokenizer

SEATINGS = ("shared", "masked", "independent")
SEATING_FILE = "seating.json"


def firm_seats(economy: Economy) -> np.ndarray:
    """(n,) each agent's position in its market (0 .. k-1): which firm it is."""
    if not (hasattr(economy, "seat") and hasattr(economy, "n_markets")):
        raise InvalidInputError(
            f"economy: seatings split the firms of a market, which {economy.name!r} has not "
            "(use pricing)"
        )
    return np.asarray(economy.seat // economy.n_markets, dtype=np.int64)


class SeatedForest(nn.Module):
    """The firms' models and their seating; ``forward`` takes a ``ForestModel``'s round inputs
    plus ``seat_ids`` (n,) and returns one ``ForestOutput`` for all agents in their order."""

    def __init__(self, firms: Sequence[ForestModel], seating: str) -> None:
        super().__init__()
        if seating not in SEATINGS:
            raise InvalidInputError(f"seating: expected one of {SEATINGS}, got {seating!r}")
        if (seating == "independent") != (len(firms) > 1) or not firms:
            raise InvalidInputError(
                f"firms: the {seating} seating takes "
                f"{'a model per seat' if seating == 'independent' else 'one model'}, "
                f"got {len(firms)}"
            )
        self.firms = nn.ModuleList(firms)
        self.seating = seating

    @property
    def config(self) -> ForestConfig:
        return self.firms[0].config

    @property
    def device(self) -> torch.device:
        return self.firms[0].device

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        role_ids: torch.Tensor,
        tree_ids: torch.Tensor,
        seat_ids: torch.Tensor,
        memory: torch.Tensor | None = None,
        aggregation_weights: torch.Tensor | None = None,
        summary_delta: torch.Tensor | None = None,
        robust_aggregation: object | None = None,
        return_attention: bool = False,
        sybil_summaries: torch.Tensor | None = None,
        sybil_tree_ids: torch.Tensor | None = None,
    ) -> ForestOutput:
        latent = (aggregation_weights, summary_delta, robust_aggregation, sybil_summaries,
                  sybil_tree_ids)  # fmt: skip
        if return_attention or any(x is not None for x in latent):
            raise InvalidInputError(
                "interventions: a seated forest takes no latent interventions or defenses and "
                "reports no attention (it is measured for collusion, not attacked)"
            )
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask,
                  "role_ids": role_ids, "tree_ids": tree_ids, "memory": memory}  # fmt: skip
        if self.seating == "shared":
            return self.firms[0](**inputs)
        return ForestOutput(**self._by_seat(lambda model, part: _fields(model(**part)),
                                            inputs, seat_ids))  # fmt: skip

    def action_logits(
        self, summaries: torch.Tensor, tree_ids: torch.Tensor, seat_ids: torch.Tensor
    ) -> torch.Tensor:
        """(n, n_actions) steps (b) and (c) from summaries already encoded: what a fine-tune
        that keeps the encoder frozen trains."""

        def decide(model: ForestModel, part: dict) -> dict[str, torch.Tensor]:
            context = model.aggregate(part["summaries"], part["tree_ids"])
            return {"action_logits": model.heads(part["summaries"], context)[0]}

        inputs = {"summaries": summaries, "tree_ids": tree_ids}
        if self.seating == "shared":
            return decide(self.firms[0], inputs)["action_logits"]
        return self._by_seat(decide, inputs, seat_ids)["action_logits"]

    def _by_seat(
        self,
        run: Callable[[ForestModel, dict], dict[str, torch.Tensor]],
        inputs: dict[str, torch.Tensor | None],
        seat_ids: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """``run`` on each seat's agents apart (with that seat's model when independent), its
        outputs joined back in the agents' order."""
        seats = seat_ids.cpu().numpy()
        if seats.size == 0:
            raise InvalidInputError("seat_ids: a round needs at least one firm")
        if len(self.firms) > 1 and seats.max() >= len(self.firms):
            raise InvalidInputError(
                f"seat_ids: {len(self.firms)} independent models, got a seat {seats.max()}"
            )
        rows, parts = [], []
        for seat in np.unique(seats):
            seated = torch.from_numpy(np.flatnonzero(seats == seat))
            model = self.firms[seat if len(self.firms) > 1 else 0]
            part = {k: None if v is None else v[seated] for k, v in inputs.items()}
            parts.append(run(model, part))
            rows.append(seated)
        order = torch.argsort(torch.cat(rows))  # the inverse of the seats' concatenated rows
        return {name: torch.cat([p[name] for p in parts])[order] for name in parts[0]}


def _fields(output: ForestOutput) -> dict[str, torch.Tensor]:
    names = ("summaries", "context", "action_logits", "message_logits", "value")
    return {name: getattr(output, name) for name in names}


class SeatedPolicy(ForestPolicy):
    """``ForestPolicy`` on a ``SeatedForest``: the round's inputs carry each agent's seat."""

    def __init__(self, model: SeatedForest, tokenizer: Tokenizer) -> None:
        super().__init__(model, tokenizer, router=None)

    def model_inputs(
        self,
        economy: Economy,
        observations: np.ndarray | None = None,
        message_text: dict[int, str] | None = None,
    ) -> dict[str, torch.Tensor | None]:
        inputs = super().model_inputs(economy, observations, message_text)
        inputs["seat_ids"] = torch.from_numpy(firm_seats(economy))
        return inputs


def save_seated(directory: Path, model: SeatedForest, tokenizer: Tokenizer) -> None:
    """``directory/firm-J`` for each model (safetensors, as any checkpoint) and the seating."""
    directory = Path(directory)
    for index, firm in enumerate(model.firms):
        checkpoints.save_policy(directory / f"firm-{index}", firm, tokenizer, None)
    seating = {"seating": model.seating, "firms": len(model.firms)}
    (directory / SEATING_FILE).write_text(json.dumps(seating))


def is_seated_checkpoint(directory: Path) -> bool:
    return (Path(directory) / SEATING_FILE).is_file()


def load_seated(directory: Path) -> SeatedPolicy:
    """The seated forest ``save_seated`` wrote in ``directory``."""
    directory = Path(directory)
    if not is_seated_checkpoint(directory):
        raise InvalidInputError(f"{directory}: no {SEATING_FILE}; not a seated forest")
    seating = checkpoints.load_json(directory / SEATING_FILE)
    firms = seating.get("firms") if isinstance(seating, dict) else None
    if not isinstance(firms, int) or not 1 <= firms <= 20:
        raise InvalidInputError(
            f"{directory / SEATING_FILE}: expected a count of firms, got {firms!r}"
        )
    policies = [
        checkpoints.load_token_policy(directory / f"firm-{j}", "a seated forest", with_router=False)
        for j in range(firms)
    ]
    model = SeatedForest([p.model for p in policies], seating.get("seating"))
    return SeatedPolicy(model, policies[0].tokenizer)
