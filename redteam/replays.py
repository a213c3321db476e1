"""Counterfactual replays of a round: which channel carried the poison.

After an attacked round is decided, the engine (``redteam.episodes.play_round``) decides it
again on the same state with the attack's channels restored: the attackers' summaries (their
inputs and latent unperturbed, no sybils), the delivered messages (the economy as it would
stand had last round's messages gone unedited, stepped from the same state by the engine), and,
where the round used both, both. A replay only decides: it moves no memory, no attack state and
no random stream of the episode (a policy without a forest, whose decisions draw from the
world's stream, is refused by the engine). ``redteam.propagation.channel_shares`` reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from defenses import Channel, Defense
from forest.economy import Economy, Messages
from forest.interventions import Interventions

if TYPE_CHECKING:
    from redteam.episodes import Policy


@dataclass(frozen=True)
class Replays:
    """Every agent's action in a round replayed on the attacked state with the attack's
    channels restored: the attackers' summaries (their inputs and latent unperturbed, no
    sybils), the messages delivered (as the attackers would have sent them, no injected
    words), or both. None where the round had nothing to restore: the replay equals the
    round."""

    attention: np.ndarray | None
    messages: np.ndarray | None
    both: np.ndarray | None


def replay_round(economy: Economy, policy: Policy, interventions: Interventions,
              compromised: np.ndarray, clean_world: Economy | None) -> Replays:  # fmt: skip
    """The round decided again with the attackers' summaries, then their messages, restored.

    The message replay reads ``clean_world``, the economy as it would stand had last round's
    messages been delivered unedited (stepped from the same state), so that a forged report is
    undone both as tokens in the inbox and in every figure the economy derived from it; the
    attackers' own observations stay as the attack set them."""
    i = interventions
    latent = i.observations is not None or i.summary_delta is not None or i.sybils is not None
    attention = None
    if latent:
        restored = replace(i, observations=None, summary_delta=None, sybils=None)
        attention = policy.decide(economy, restored).actions
    if clean_world is None and i.message_text is None:
        return Replays(attention, None, attention)
    world = economy if clean_world is None else clean_world
    truth = None if clean_world is None else clean_world.observe()
    observations = i.observations
    if truth is not None and observations is not None:
        observations = truth.copy()
        observations[compromised] = i.observations[compromised]
    restored = replace(i, observations=observations, message_text=None)
    messages = policy.decide(world, restored).actions
    if attention is None:
        return Replays(None, messages, messages)
    restored = replace(i, observations=truth, summary_delta=None, sybils=None, message_text=None)
    return Replays(attention, messages, policy.decide(world, restored).actions)


def unedited_delivery(
    policy: Policy, defense: Defense | None, economy: Economy, round_: int, outgoing: Messages,
    compromised: np.ndarray,
) -> Messages:  # fmt: skip
    """What the channel and the router would have delivered of ``outgoing`` unedited."""
    kept = outgoing
    if defense is not None:
        channel = Channel(round_, economy.n_agents, outgoing, outgoing, compromised)
        kept = defense.filter_messages(channel)
    router = getattr(policy, "router", None)
    return kept if router is None else router.route(kept, economy.role).kept
