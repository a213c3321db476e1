"""What may be done to one round of the forest from outside: the intervention points as one value.

Attacks and defenses act on the forest only through these, and the harness hands them to
``ForestPolicy.act`` (or ``decide``) as one object, so that a new intervention is one field here
rather than one more keyword argument on every call in between. Every field defaults to "leave
this point alone".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from forest.economy import Messages
from forest.model.robust_aggregation import RobustAggregation


@dataclass(frozen=True)
class Interventions:
    """One round's interventions (each None: untouched).

    ``observations`` (n, F) replace what the agents observe (lies in a compromised agent's
    view). ``summary_delta`` (n, d) is added to the summary tokens before the forest aggregates
    them. ``aggregation_weights`` (n,) scale each agent's weight in the aggregation (a
    quarantine sets some to 0). ``robust_aggregation`` pools the tree slots robustly.
    ``sybils`` (summaries (s, d), tree ids (s,)) are fake agents that join the aggregation.
    ``edit_messages`` rewrites the outgoing messages before the router sees them, so a crafted
    message must get past the router like any other. ``message_text`` (inbox index -> words)
    is what some delivered messages say, for a forest that reads text.
    """

    observations: np.ndarray | None = None
    summary_delta: torch.Tensor | None = None
    aggregation_weights: torch.Tensor | None = None
    robust_aggregation: RobustAggregation | None = None
    sybils: tuple[torch.Tensor, torch.Tensor] | None = None
    edit_messages: Callable[[Messages], Messages] | None = None
    message_text: Mapping[int, str] | None = None


NO_INTERVENTIONS = Interventions()
