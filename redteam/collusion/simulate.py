"""Playing a scenario's markets: prices (or asks) round by round, and what the screens read.

``simulate`` plays ``markets`` markets of a ``Scenario`` for ``rounds`` rounds through the
episode engine (``redteam.episodes``): the economy's experts (or the forest) are the policy, the
scenario's cartel is the attack, acting through the same hooks as in a suite, and recorders
observe each round. Pricing markets are also replayed with firm 0 of every market forced to the
bottom of the price grid for one round (the punishment probe, ``probe.Probed``). Q-learners are
not an economy's episode: they are played greedily from their Q-tables. It returns a
``PricePanel`` (pricing) or an ``AuctionPanel`` (exchange) with the labels.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from attacks import ThreatModel
from attacks.bid_rotation import BidRotationAttack
from attacks.cartels import CartelAttack, pricing_messages
from attacks.covert_summary import CovertSummaryCartel
from defenses.collusion.auction_panel import AuctionPanel
from defenses.collusion.panel import MIN_ROUNDS, PricePanel
from forest.checkpoints import load_policy
from forest.economy import Messages
from forest.economy.base import RoundResult
from forest.economy.exchange import Exchange
from forest.economy.messages import ASK, BID, PRICE, encode
from forest.economy.pricing import Pricing
from forest.economy.q_learning import (
    Q_LEARNING_DRAWS,
    Learners,
    Market,
    play_greedy,
    state_index,
    train,
)
from forest.expert_policy import ExpertPolicy
from forest.policy import ForestPolicy
from forest.seating import SeatedForest, SeatedPolicy
from forest.training.profit_seeking import finetune_for_profit, source_digest
from forest.validation import require_int
from redteam.collusion.probe import Probed
from redteam.collusion.scenarios import Scenario
from redteam.episodes import NOBODY, Played, Player, fresh_policy, play_episode


@dataclass(frozen=True)
class LabelledMarkets:
    """``markets`` markets of one scenario and seed, with what the screens read."""

    scenario: Scenario
    seed: int
    panel: PricePanel | AuctionPanel
    channel_error: float | None = None  # covert cartels: mean grid steps decoded off target
    channel_chance: float | None = None  # ... and what guessing uniformly would be off by

    @property
    def onset(self) -> int:
        """The round collusion starts (0 for learners, which collude from the first round)."""
        return 0 if self.scenario.kind == "q-learning" else self.scenario.onset


_FORESTS: dict[str, ForestPolicy] = {}  # checkpoints already loaded in this process


def _forest(checkpoint: str) -> ForestPolicy:
    """The forest that plays a scenario's honest firms, fresh (no memory), with no router:
    the quotes firms post are the channel the screens read, not the forest's messages."""
    if checkpoint not in _FORESTS:
        _FORESTS[checkpoint] = load_policy(Path(checkpoint), with_router=False)
    return fresh_policy(_FORESTS[checkpoint], use_router=False)


@contextmanager
def _one_thread() -> Iterator[None]:
    """Forest-played markets run on one torch thread, as suite cells do: a matrix product's
    sums split by thread count, and one count keeps the benchmark bit-identical anywhere."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _members(scenario: Scenario, shape: tuple[int, ...], axis: int) -> np.ndarray:
    """(shape) bool: the cartel's seats, the first ``members`` (0: all) along ``axis``."""
    count = scenario.members or shape[axis]
    seats = np.arange(shape[axis]) < count
    return np.broadcast_to(np.expand_dims(seats, [a for a in range(len(shape)) if a != axis]),
                           shape)  # fmt: skip


def profit_forest(scenario: Scenario, seed: int, cache: Path | None) -> SeatedForest:
    """The scenario's forest fine-tuned for profit with ``seed``, from ``cache`` if this exact
    fine-tune finished before (it takes minutes); a killed one resumes there."""
    config = scenario.profit_config(seed)
    if cache is None:
        with tempfile.TemporaryDirectory() as scratch:
            return finetune_for_profit(config, Path(scenario.checkpoint), Path(scratch))[0].model
    out = profit_forest_dir(scenario, seed, cache)
    return finetune_for_profit(config, Path(scenario.checkpoint), out)[0].model


def profit_forest_dir(scenario: Scenario, seed: int, cache: Path) -> Path:
    """Where ``profit_forest`` keeps this fine-tune (its weights and ``train_log.json``)."""
    digest = source_digest(Path(scenario.checkpoint))
    key = json.dumps([scenario.profit_config(seed).to_dict(), digest], sort_keys=True)
    return cache / f"profit-forest-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def _pricing_player(
    scenario: Scenario, economy: Pricing, seed: int, seated: SeatedForest | None
) -> tuple[Player, np.ndarray]:
    """The scenario's firms (experts, the forest, or the seated forest ``seated``) with its
    cartel as their attack, and the cartel's agents."""
    if seated is not None:
        policy = SeatedPolicy(seated, _forest(scenario.checkpoint).tokenizer)
    else:
        policy = _forest(scenario.checkpoint) if scenario.policy == "forest" else ExpertPolicy()
    members = _members(scenario, (scenario.firms, economy.n_markets), axis=0)
    threat = ThreatModel(knowledge="white-box")
    attack = None
    if scenario.kind == "cartel":
        attack = CartelAttack(replace(scenario.cartel_params(), start_round=scenario.onset), threat)
    elif scenario.kind == "covert-cartel":
        params = replace(scenario.covert_params(), start_round=scenario.onset)
        attack = CovertSummaryCartel(params, threat)
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(3)[2])
    compromised = np.flatnonzero(economy.to_agents(members)) if attack else NOBODY
    return Player(policy, attack, rng), compromised


def _posted_quotes(economy: Pricing, actions: np.ndarray) -> Messages:
    """Every firm quotes the price it charges: whoever plays, the quotes are the message
    channel of these markets (a message-run cartel's leader then quotes its target)."""
    return pricing_messages(economy, economy.by_market(actions))


def _quoted(economy: Pricing, messages: Messages) -> np.ndarray:
    """(k, M) the price index each firm quoted this round."""
    price = messages.kinds == PRICE
    quotes = np.zeros(economy.n_agents, dtype=np.int64)
    quotes[messages.sender[price]] = messages.values[price]
    return economy.by_market(quotes)


class PricingRecorder:
    """Prices, quotes, profits and benchmarks of every market each round, and the summary
    tokens when a forest plays. Prices move with a cost shock; under a demand shock d (played
    as cost shock -d) they are the grid prices, and the benchmarks move by d (``Scenario``)."""

    NAMES = ("prices", "quotes", "profits", "nash", "monopoly", "nash_profit", "monopoly_profit")

    def __init__(self, shock: str) -> None:
        self.shock = shock
        self.series: dict[str, list[np.ndarray]] = {name: [] for name in self.NAMES}
        self.summaries: list[np.ndarray] = []

    def before_step(self, round_: int, economy: Pricing, played: Played) -> None:
        shift = economy.levels[economy.cost_level_index]
        demand = -shift if self.shock == "demand" else 0.0
        for name, value in economy.market_benchmarks().items():
            self.series[name].append(value + demand if name in ("nash", "monopoly") else value)
        prices = economy.by_market(played.actions)
        quotes = _quoted(economy, played.step.messages)
        self.series["prices"].append(economy.grid[prices] + shift + demand)
        self.series["quotes"].append(economy.grid[quotes] + shift + demand)
        if played.step.output is not None:
            self.summaries.append(economy.by_market(played.step.output.summaries.numpy()))

    def after_step(
        self, round_: int, economy: Pricing, played: Played, result: RoundResult
    ) -> None:
        self.series["profits"].append(economy.by_market(economy.last_profit))

    def arrays(self) -> dict[str, np.ndarray]:
        out = {name: np.stack(values, axis=1) for name, values in self.series.items()}
        for name in ("prices", "quotes", "profits"):  # (k, T, M) -> (M, T, k)
            out[name] = out[name].transpose(2, 1, 0)
        if self.summaries:
            out["summaries"] = np.stack(self.summaries, axis=1).transpose(2, 1, 0, 3)
        return out


def _play_pricing(
    scenario: Scenario, markets: int, rounds: int, seed: int, deviation_round: int | None,
    seated: SeatedForest | None = None,
) -> dict[str, np.ndarray]:  # fmt: skip
    """Prices, quotes, profits and benchmarks (each (M, T[, k])) of one pricing episode, and
    the summary tokens (M, T, k, d) when a forest plays it."""
    economy = Pricing(scenario.pricing_config(markets * scenario.firms), seed)
    player, compromised = _pricing_player(scenario, economy, seed, seated)
    player = replace(player, attack=Probed(player.attack, deviation_round))
    recorder = PricingRecorder(scenario.shock)
    with _one_thread():
        play_episode(economy, rounds, player, compromised, observers=[recorder],
                     posting=_posted_quotes)  # fmt: skip
    out = recorder.arrays()
    covert = player.attack.inner
    if isinstance(covert, CovertSummaryCartel) and covert.cartel and covert.cartel.decode_errors:
        out["channel_error"] = float(np.mean(covert.cartel.decode_errors))
        n = covert.cartel.targets  # E|X - Y| for X, Y uniform on n consecutive grid steps
        out["channel_chance"] = (n**2 - 1) / (3 * n)
    return out


class AskRecorder:
    """The sellers' asks (M, S) of every market each round."""

    def __init__(self) -> None:
        self.asks: list[np.ndarray] = []

    def before_step(self, round_: int, economy: Exchange, played: Played) -> None:
        self.asks.append(economy.price_of(economy.by_market(played.actions)[:, 1]))

    def after_step(
        self, round_: int, economy: Exchange, played: Played, result: RoundResult
    ) -> None:
        pass


def _posted_offers(economy: Exchange, actions: np.ndarray) -> Messages:
    """Offers announce the levels actually submitted, rigged or not."""
    offers = economy.broadcast(encode(np.where(economy.is_buyer, BID, ASK), actions))
    return Messages.concat(offers, economy.inbox.echoes())


def _play_exchange(scenario: Scenario, markets: int, rounds: int, seed: int) -> AuctionPanel:
    """The sellers' asks (M, T, S) of one exchange episode, rotated by a cartel if any."""
    economy = Exchange(scenario.exchange_config(markets), seed)
    attack, compromised = None, NOBODY
    if scenario.kind == "bid-rotation":
        params = replace(scenario.rotation_params(), start_round=scenario.onset)
        attack = BidRotationAttack(params, ThreatModel())
        sellers = _members(scenario, (markets, 2, scenario.firms), axis=2).copy()
        sellers[:, 0] = False
        compromised = np.flatnonzero(economy.to_agents(sellers))
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(3)[2])
    recorder = AskRecorder()
    play_episode(economy, rounds, Player(ExpertPolicy(), attack, rng), compromised,
                 observers=[recorder], posting=_posted_offers)  # fmt: skip
    return AuctionPanel(np.stack(recorder.asks, axis=1))


def _cache_path(cache: Path | None, scenario: Scenario, markets: int, seed: int) -> Path | None:
    if cache is None:
        return None
    # The draws' layout is part of the key: since exploration is drawn in blocks (the compiled
    # backend's), a seed learns other tables than it did before.
    key = json.dumps([asdict(scenario.q_config()), markets, seed, Q_LEARNING_DRAWS],
                     sort_keys=True)  # fmt: skip
    return cache / f"q-learning-{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"


def _learners(scenario: Scenario, markets: int, seed: int, cache: Path | None) -> Learners:
    """Trained Q-learners, from ``cache`` if this exact training ran before (it takes minutes)."""
    path = _cache_path(cache, scenario, markets, seed)
    if path is not None and path.exists():
        with np.load(path) as saved:
            return Learners(saved["q"], saved["state"], int(saved["periods"]),
                            saved["converged_at"])  # fmt: skip
    learners, _ = train(scenario.q_config(), markets, seed)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial.npz")
        np.savez(partial, q=learners.q, state=learners.state, periods=learners.periods,
                 converged_at=learners.converged_at)  # fmt: skip
        partial.replace(path)
    return learners


def _play_learners(
    scenario: Scenario, learners: Learners, markets: int, rounds: int, deviation_round: int | None
) -> dict[str, np.ndarray]:
    config = scenario.q_config()
    market = Market.build(config)
    path = play_greedy(learners, config.points, rounds)  # (T, M, k)
    if deviation_round is not None:
        forced = path[deviation_round].copy()
        forced[:, 0] = 0
        path = path.copy()
        path[deviation_round] = forced
        after = rounds - deviation_round - 1
        if after:
            start = state_index(forced, config.points)
            path[deviation_round + 1 :] = play_greedy(learners, config.points, after, start)
    profits = market.profile_profits[state_index(path.reshape(-1, config.n_firms), config.points)]
    prices = market.prices[path].transpose(1, 0, 2)
    return {
        "prices": prices,
        "quotes": prices,
        "profits": profits.reshape(path.shape).transpose(1, 0, 2),
        "nash": np.full(markets, market.price_nash),
        "monopoly": np.full(markets, market.price_monopoly),
        "nash_profit": np.full(markets, market.profit_nash),
        "monopoly_profit": np.full(markets, market.profit_monopoly),
    }


def simulate(
    scenario: Scenario, markets: int, rounds: int, seed: int, deviation_round: int,
    cache: Path | None = None,
) -> LabelledMarkets:  # fmt: skip
    """Play a scenario, then replay it with the probe's forced deviation in ``deviation_round``
    (pricing; exchange markets have no probe).

    ``cache`` is a folder for trained Q-learners and profit-seeking forests (None: retrain
    every time).
    """
    require_int(markets, "markets", 1, 1_000_000)
    require_int(rounds, "rounds", MIN_ROUNDS, 1_000_000)
    require_int(seed, "seed", 0)
    require_int(deviation_round, "deviation_round", 0, rounds - 2)
    if scenario.economy == "exchange":
        return LabelledMarkets(scenario, seed, _play_exchange(scenario, markets, rounds, seed))
    if scenario.kind == "q-learning":
        learners = _learners(scenario, markets, seed, cache)  # trained once for both twins
        observed = _play_learners(scenario, learners, markets, rounds, None)
        probed = _play_learners(scenario, learners, markets, rounds, deviation_round)
    else:
        seated = None
        if scenario.kind == "profit-forest":
            seated = profit_forest(scenario, seed, cache)  # trained once for both twins
        observed = _play_pricing(scenario, markets, rounds, seed, None, seated)
        probed = _play_pricing(scenario, markets, rounds, seed, deviation_round, seated)
        probed.pop("summaries", None)
    error = observed.pop("channel_error", None)
    chance = observed.pop("channel_chance", None)
    panel = PricePanel(probed=probed["prices"], deviation_round=deviation_round, **observed)
    return LabelledMarkets(scenario, seed, panel, error, chance)
