"""A cell's two episodes: the clean twin and the attacked episode, played in lock-step.

The attacked episode and its clean twin share the seed, the model and the economy config, so
they are the same episode until the attack first acts; the twin's record is what every
propagation and success figure compares against, round by round. A defended cell plays its twin
defended too (the counterfactual of an attack on a defended forest is the defended forest,
unattacked), unless the defense only watches; under an escalating defense the attacked episode
is compared with a twin escalated in exactly its rounds (``play_twin(schedule=...)``). Both are
played by the one episode engine, ``redteam.episodes``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from attacks import Attack, RoundOutcome
from defenses import Defense, RoundSignals, round_signals
from defenses.certification import certifiable
from forest.economy import Economy
from forest.economy.base import InteractionGraph, RoundResult
from forest.policy import ForestPolicy
from redteam.certified import CertifiedDecisions
from redteam.delivery import MessageReach
from redteam.episodes import NOBODY, Played, Player, escalation_player, play_episode


@dataclass(frozen=True)
class TwinRecord:
    """The clean episode: (R, n) arrays, and (R,) which rounds were escalated and the
    economy's welfare; ``certified`` (R, n) which decisions were certified (None where the
    defense's pooling has no certificate)."""

    actions: np.ndarray
    completed: np.ndarray
    action_unit: np.ndarray
    escalated: np.ndarray
    welfare: np.ndarray
    certified: np.ndarray | None = None
    # (R, stage, sender) messages sent, delivered and read (``redteam.delivery``); None for
    # a record played elsewhere
    message_reach: np.ndarray | None = None


@dataclass(frozen=True)
class AttackRecord:
    """The attacked episode: (R, n) arrays, per-round figures, and the compromised agents."""

    actions: np.ndarray
    completed: np.ndarray
    scores: np.ndarray | None  # detector scores, None without a detector
    flagged: np.ndarray | None
    rejected: int  # messages the defense's channel filter refused
    escalated: np.ndarray  # (R,) bool: the large model played the round
    success: np.ndarray  # (R,) bool: the attack's objective reached (False before it starts)
    latency_ms: np.ndarray  # (R,) wall time of the policy's round (the forest and router)
    welfare: np.ndarray  # (R,) the economy's welfare (``Economy.welfare_name``)
    # (R, n) actions replayed with the attackers' summaries, messages, or both restored
    replay_attention: np.ndarray
    replay_messages: np.ndarray
    replay_both: np.ndarray
    seconds: dict[str, float]  # wall time by component (``Episode.seconds``)
    tokens_offered: int
    tokens_delivered: int
    # (R, stage, sender) messages sent, delivered and read (``redteam.delivery``)
    message_reach: np.ndarray
    compromised: np.ndarray  # sorted ids
    graph: InteractionGraph  # who directly affects whom in the economy
    hops: np.ndarray  # (n,) hop distance from the nearest compromised agent (-1: unreachable)


def play_twin(
    economy: Economy,
    policy: ForestPolicy,
    rounds: int,
    mitigation: Defense | None = None,
    schedule: np.ndarray | None = None,
    certified_k: int | None = None,
) -> TwinRecord:
    """The clean episode, defended by ``mitigation`` if one is given; an escalating one
    escalates in the rounds ``schedule`` says, if given (``play_episode``). With
    ``certified_k``, each round's decisions are certified against that many compromised agents
    per tree, where the defense's pooling has a certificate (``redteam.certified``)."""
    rng = np.random.default_rng(0)  # no attack draws from it
    large = escalation_player(mitigation, None, rng)
    player = Player(policy, None, rng, mitigation)
    pooling = None if mitigation is None else mitigation.robust_aggregation()
    reach = MessageReach(economy.n_agents)
    certified = None
    # The certificate is about the small forest's own decisions under its pooling: an escalated
    # round is another model's, so an escalating defense gets no certified share.
    if certified_k is not None and large is None and certifiable(pooling):
        certified = CertifiedDecisions(policy.model, pooling, certified_k)
    observers = [reach] if certified is None else [reach, certified]
    record = play_episode(
        economy, rounds, player, NOBODY, large, observers=observers, schedule=schedule
    )
    return TwinRecord(
        np.stack(record.actions),
        np.stack(record.completed),
        np.stack(record.units),
        np.array(record.escalated),
        np.array(record.welfare),
        None if certified is None else np.stack(certified.certified),
        reach.per_round(),
    )


@dataclass
class SignalRecorder:
    """Keeps what a detector sees of each round."""

    signals: list[RoundSignals] = field(default_factory=list)

    def before_step(self, round_: int, economy: Economy, played: Played) -> None:
        self.signals.append(round_signals(round_, played.step.output, economy.role, played.actions))

    def after_step(
        self, round_: int, economy: Economy, played: Played, result: RoundResult
    ) -> None:
        pass


def clean_signals(economy: Economy, policy: ForestPolicy, rounds: int) -> list[RoundSignals]:
    """What a detector sees in a clean episode: its fitting and calibration data."""
    recorder = SignalRecorder()
    play_episode(economy, rounds, Player(policy), NOBODY, observers=[recorder])
    return recorder.signals


def succeeded(
    attack: Attack, round_: int, honest: np.ndarray, roles: np.ndarray, actions: np.ndarray,
    completed: np.ndarray, welfare: float, twin: TwinRecord,
) -> bool:  # fmt: skip
    """Whether the attack reached its objective in ``round_``, against the twin's record."""
    outcome = RoundOutcome(round_, honest, roles, actions, twin.actions[round_], completed,
                           twin.completed[round_], twin.action_unit[round_], welfare,
                           float(twin.welfare[round_]))  # fmt: skip
    return attack.active(round_) and attack.succeeded(outcome)


def judge_success(
    attack: Attack, record: AttackRecord, twin: TwinRecord, roles: np.ndarray
) -> np.ndarray:
    """(R,) ``succeeded`` of every round of a played episode, against ``twin``."""
    honest = np.ones(record.actions.shape[1], dtype=bool)
    honest[record.compromised] = False
    return np.array([
        succeeded(attack, r, honest, roles, record.actions[r], record.completed[r],
                  float(record.welfare[r]), twin)
        for r in range(record.actions.shape[0])
    ])  # fmt: skip


@dataclass
class SuccessJudge:
    """Whether the attack reached its objective in each round, as the episode is played."""

    attack: Attack
    twin: TwinRecord
    honest: np.ndarray
    success: list[bool] = field(default_factory=list)

    def before_step(self, round_: int, economy: Economy, played: Played) -> None:
        pass

    def after_step(
        self, round_: int, economy: Economy, played: Played, result: RoundResult
    ) -> None:
        judged = succeeded(self.attack, round_, self.honest, economy.role, played.actions,
                           result.task_completed, result.metrics["welfare"],
                           self.twin)  # fmt: skip
        self.success.append(judged)


def play_attacked(
    economy: Economy,
    policy: ForestPolicy,
    attack: Attack,
    defense: Defense | None,
    twin: TwinRecord,
    rng: np.random.Generator,
    fallback: tuple[Attack, np.random.Generator] | None = None,
) -> AttackRecord:
    """Play the attacked episode in lock-step with the twin's record. Under an escalating
    defense, ``fallback`` is the attack's second instance (and its random stream) that acts on
    the escalation target."""
    compromised = attack.threat.choose_agents(economy, rng)
    honest = np.ones(economy.n_agents, dtype=bool)
    honest[compromised] = False
    graph = economy.interaction_graph()
    hops = graph.hop_distance(compromised)
    large = None if fallback is None else escalation_player(defense, *fallback)
    judge = SuccessJudge(attack, twin, honest)
    reach = MessageReach(economy.n_agents)
    record = play_episode(
        economy, twin.actions.shape[0], Player(policy, attack, rng, defense), compromised, large,
        [judge, reach], replay=True,
    )  # fmt: skip
    scoring = bool(record.scores)
    return AttackRecord(
        actions=np.stack(record.actions),
        completed=np.stack(record.completed),
        scores=np.stack(record.scores) if scoring else None,
        flagged=np.stack(record.flagged) if scoring else None,
        rejected=record.rejected,
        escalated=np.array(record.escalated),
        success=np.array(judge.success),
        latency_ms=np.array(record.latency_ms),
        welfare=np.array(record.welfare),
        replay_attention=np.stack(record.replay_attention),
        replay_messages=np.stack(record.replay_messages),
        replay_both=np.stack(record.replay_both),
        seconds=dict(record.seconds),
        tokens_offered=record.offered,
        tokens_delivered=record.delivered,
        message_reach=reach.per_round(),
        compromised=compromised,
        graph=graph,
        hops=hops,
    )
