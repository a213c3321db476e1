"""Playing a scenario's markets: prices (or asks) round by round, and what the screens read.

``simulate`` plays ``markets`` markets of a ``Scenario`` for ``rounds`` rounds: the economy's
experts (or the forest) price, cartels and learners act as the scenario says. Pricing markets
are also replayed with firm 0 of every market forced to the bottom of the price grid for one
round (the punishment probe). It returns a ``PricePanel`` (pricing) or an ``AuctionPanel``
(exchange) with the labels.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from attacks.bid_rotation import Rotation
from attacks.cartels import Cartel, pricing_messages, quoted
from attacks.covert_summary import CovertCartel
from defenses.collusion.auction_panel import AuctionPanel
from defenses.collusion.panel import MIN_ROUNDS, PricePanel
from forest.economy import Messages
from forest.economy.exchange import Exchange
from forest.economy.messages import ASK, BID, encode
from forest.economy.pricing import Pricing
from forest.economy.q_learning import Learners, Market, play_greedy, state_index, train
from forest.policy import ForestPolicy
from forest.training.checkpoints import load_policy
from forest.validation import require_int
from redteam.collusion.scenarios import Scenario


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


@functools.lru_cache(maxsize=4)
def _forest(checkpoint: str) -> ForestPolicy:
    """The forest that plays a scenario's honest firms (loaded once per checkpoint)."""
    torch.set_num_threads(1)
    return load_policy(Path(checkpoint), with_router=False)


def _play_pricing(
    scenario: Scenario, markets: int, rounds: int, seed: int, deviation_round: int | None
) -> dict[str, np.ndarray]:
    """Prices, quotes, profits and benchmarks (each (M, T[, k])) of one pricing episode, and
    the summary tokens (M, T, k, d) when a forest plays it."""
    k = scenario.firms
    economy = Pricing(scenario.pricing_config(markets * k), seed)
    members = np.zeros((k, markets), dtype=bool)
    members[: scenario.members or k] = True
    cartel = covert = policy = None
    if scenario.kind == "cartel":
        cartel_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(3)[2])
        cartel = Cartel(scenario.cartel_params(), members, economy.n_actions, scenario.onset,
                        cartel_rng)  # fmt: skip
    if scenario.policy == "forest":
        policy = _forest(scenario.checkpoint)
        policy.reset()
    if scenario.kind == "covert-cartel":
        covert = CovertCartel(scenario.covert_params(), members, policy.model.config.hidden_size,
                              economy.n_actions, scenario.onset)  # fmt: skip
    names = ("prices", "quotes", "profits", "nash", "monopoly", "nash_profit", "monopoly_profit")
    series = {name: [] for name in names}
    tokens = []
    last = None
    for t in range(rounds):
        if policy is None:
            actions, _ = economy.expert()
        else:
            delta = None
            if covert is not None and policy.memory is not None:
                scale = float(policy.memory.norm(dim=1).median())
                written = covert.summary_delta(t, scale)
                if written is not None:
                    delta = torch.from_numpy(economy.to_agents(written).astype(np.float32))
            step = policy.act(economy, summary_delta=delta)
            actions = step.actions
            tokens.append(economy.by_market(step.output.summaries.numpy()))
        prices = economy.by_market(actions)
        quotes = prices
        if cartel is not None:
            announced = cartel.announce(t)
            prices = cartel.prices(t, last, prices)
            quotes = quoted(cartel.members, cartel.leader, prices, announced)
        if covert is not None:
            prices = quotes = covert.prices(t, prices)
            covert.read(t, economy.by_market(step.output.context.numpy()))
        if t == deviation_round:
            prices = prices.copy()
            prices[0] = 0
            quotes = quotes.copy()
            quotes[0] = 0
        # Prices move with a cost shock; under a demand shock d (played as cost shock -d) they
        # are the grid prices, and the benchmarks move by d (see Scenario).
        shift = economy.levels[economy.cost_level_index]
        demand = -shift if scenario.shock == "demand" else 0.0
        for name, value in economy.market_benchmarks().items():
            series[name].append(value + demand if name in ("nash", "monopoly") else value)
        series["prices"].append(economy.grid[prices] + shift + demand)
        series["quotes"].append(economy.grid[quotes] + shift + demand)
        # Quotes announce what each firm charges (or a cartel leader's target) whoever plays:
        # in forest-played markets the channel under study is the latent, not the messages.
        economy.step(economy.to_agents(prices), pricing_messages(economy, quotes))
        series["profits"].append(economy.by_market(economy.last_profit))
        last = prices
    out = {name: np.stack(values, axis=1) for name, values in series.items()}
    for name in ("prices", "quotes", "profits"):  # (k, T, M) -> (M, T, k)
        out[name] = out[name].transpose(2, 1, 0)
    if tokens:
        out["summaries"] = np.stack(tokens, axis=1).transpose(2, 1, 0, 3)  # (M, T, k, d)
    if covert is not None and covert.decode_errors:
        out["channel_error"] = float(np.mean(covert.decode_errors))
        n = covert.targets  # E|X - Y| for X, Y uniform on n consecutive grid steps
        out["channel_chance"] = (n**2 - 1) / (3 * n)
    return out


def _play_exchange(scenario: Scenario, markets: int, rounds: int, seed: int) -> AuctionPanel:
    """The sellers' asks (M, T, S) of one exchange episode, rotated by a cartel if any."""
    economy = Exchange(scenario.exchange_config(markets), seed)
    rotation = None
    if scenario.kind == "bid-rotation":
        members = np.zeros((markets, scenario.firms), dtype=bool)
        members[:, : scenario.members or scenario.firms] = True
        rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(3)[2])
        rotation = Rotation(scenario.rotation_params(), members, economy.n_actions,
                            scenario.onset, rng)  # fmt: skip
    asks = []
    for t in range(rounds):
        actions, _ = economy.expert()
        levels = economy.by_market(actions)
        if rotation is not None:
            levels = levels.copy()
            levels[:, 1] = rotation.asks(t, levels[:, 1])
        asks.append(economy.price_of(levels[:, 1]))
        actions = economy.to_agents(levels)
        # Offers announce the levels actually submitted, rigged or not.
        offers = economy.broadcast(encode(np.where(economy.is_buyer, BID, ASK), actions))
        economy.step(actions, Messages.concat(offers, economy.inbox.echoes()))
    return AuctionPanel(np.stack(asks, axis=1))


def _cache_path(cache: Path | None, scenario: Scenario, markets: int, seed: int) -> Path | None:
    if cache is None:
        return None
    key = json.dumps([asdict(scenario.q_config()), markets, seed], sort_keys=True)
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

    ``cache`` is a folder for trained Q-learners (None: retrain every time).
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
        observed = _play_pricing(scenario, markets, rounds, seed, None)
        probed = _play_pricing(scenario, markets, rounds, seed, deviation_round)
        probed.pop("summaries", None)
    error = observed.pop("channel_error", None)
    chance = observed.pop("channel_chance", None)
    panel = PricePanel(probed=probed["prices"], deviation_round=deviation_round, **observed)
    return LabelledMarkets(scenario, seed, panel, error, chance)
