"""The collusion benchmark's scenarios: families of markets with a ground-truth label.

A ``Scenario`` is one family of markets and its label. In the pricing economy:
competitive experts (with or without common AR(1) cost or demand shocks, asymmetric costs, two
to four firms), scripted cartels from ``attacks.cartels`` (full or partial, from a known onset
round), or Calvano's Q-learning agents (collusive with discount 0.95, memoryless with discount 0:
a hard negative that also prices steadily), or, with the forest playing, a cartel that signals
through its summary tokens, or a forest fine-tuned for each firm's own profit
(``forest.training.profit_seeking``: its seating says whether rivals share the latent), whose
label is what the punishment probe and the profit gain said of it, written down beforehand.
In the exchange: honest traders, or a sellers' cartel
that rotates wins (``attacks.bid_rotation``). ``simulate.simulate`` plays them.
"""

from __future__ import annotations

from dataclasses import dataclass

from attacks.bid_rotation import BidRotationParams
from attacks.cartels import STRATEGIES, CartelParams
from attacks.covert_summary import CovertSummaryParams
from forest.economy.exchange import ExchangeConfig
from forest.economy.pricing_config import PricingConfig
from forest.economy.q_learning import QLearningConfig
from forest.errors import ConfigError
from forest.training.profit_seeking import ProfitConfig
from forest.validation import require, require_float, require_int

ECONOMIES = {
    "pricing": ("competitive", "cartel", "q-learning", "covert-cartel", "profit-forest"),
    "exchange": ("competitive", "bid-rotation"),
}
KINDS = ("competitive", "cartel", "q-learning", "covert-cartel", "bid-rotation", "profit-forest")
POLICIES = ("expert", "forest")
SHOCKS = ("cost", "demand")


@dataclass(frozen=True)
class Scenario:
    """One family of markets and its label (see the module docstring).

    In the exchange ``firms`` is the number of sellers per market (with as many buyers), and a
    ``bid-rotation`` cartel of its sellers rigs asks at ``level`` with covers up to ``cover_gap``
    levels above. ``members`` is the number of firms per market in a cartel (0: all of them);
    the cartel's firms are the first ``members`` of each market, so firm 0, the one the probe
    forces to deviate, is always a member. Q-learners train with Calvano's settings unless
    ``q_max_periods`` / ``q_stable_periods`` shorten them (tests do). With ``policy = "forest"``
    the forest at ``checkpoint`` plays the honest firms instead of the experts, and a
    ``covert-cartel`` signals through its summary tokens (``attacks.covert_summary``: ``level``,
    ``spread``, ``strength``, ``calibration``). A ``profit-forest`` is the forest at
    ``checkpoint`` fine-tuned for profit (``seating``, ``reward``, ``train_iterations`` episodes
    of ``train_markets`` markets) with the benchmark's seed, before it plays.
    """

    name: str
    collusive: bool
    kind: str = "competitive"
    economy: str = "pricing"
    policy: str = "expert"
    checkpoint: str = "checkpoints/small"
    firms: int = 2
    costs: tuple[float, ...] | None = None
    shock: str = "cost"
    shock_rho: float = 0.0
    shock_sigma: float = 0.0
    strategy: str = "grim-trigger"
    members: int = 0
    level: float = 0.8
    jitter: float = 0.05
    spread: int = 4
    onset: int = 0
    ramp: int = 0
    cover_gap: int = 3
    strength: float = 1.0
    calibration: int = 10
    markets: int = 0  # markets per seed; 0: the suite's (the forest plays fewer, it is slower)
    delta: float = 0.95
    q_max_periods: int = 3_000_000
    q_stable_periods: int = 100_000
    seating: str = "shared"
    reward: str = "own"
    train_iterations: int = 30
    train_markets: int = 100

    def __post_init__(self) -> None:
        require(bool(self.name), "name", "a non-empty string", self.name)
        require(self.economy in ECONOMIES, "economy", f"one of {', '.join(ECONOMIES)}",
                self.economy)  # fmt: skip
        kinds = ECONOMIES[self.economy]
        require(self.kind in kinds, "kind", f"one of {', '.join(kinds)} in {self.economy}",
                self.kind)  # fmt: skip
        require_int(self.firms, "firms", 2, 20)
        require(self.shock in SHOCKS, "shock", f"one of {', '.join(SHOCKS)}", self.shock)
        if self.kind == "competitive" and self.collusive:
            raise ConfigError(f"collusive: competitive scenario {self.name!r} cannot be collusive")
        require(self.policy in POLICIES, "policy", f"one of {', '.join(POLICIES)}", self.policy)
        if self.policy == "forest" and (self.economy != "pricing" or self.kind == "q-learning"):
            raise ConfigError(
                f"policy: the forest plays only expert-based pricing scenarios, not "
                f"{self.kind} in {self.economy} ({self.name!r})"
            )
        if self.kind in ("covert-cartel", "profit-forest") and self.policy != "forest":
            raise ConfigError(f'policy: {self.kind} {self.name!r} needs policy = "forest"')
        if self.kind in ("cartel", "bid-rotation", "covert-cartel") and not self.collusive:
            raise ConfigError(f"collusive: {self.kind} scenario {self.name!r} must be collusive")
        require(self.strategy in STRATEGIES, "strategy", f"one of {', '.join(STRATEGIES)}",
                self.strategy)  # fmt: skip
        require_int(self.members, "members", 0, self.firms)
        require_int(self.onset, "onset", 0)
        require_int(self.markets, "markets", 0, 100_000)
        require_float(self.delta, "delta", 0.0, 0.999)
        require_int(self.q_stable_periods, "q_stable_periods", 1)
        require_int(self.q_max_periods, "q_max_periods", 1)
        if self.economy == "exchange":
            self.exchange_config(1)
            self.rotation_params()
        else:
            self.pricing_config(self.firms)  # validates costs, shocks, level, jitter, spread
        if self.kind == "cartel":
            self.cartel_params()
        if self.kind == "q-learning":
            self.q_config()
        if self.kind == "covert-cartel":
            self.covert_params()
        if self.kind == "profit-forest":
            if self.firms != 2:
                raise ConfigError(f"firms: profit-forest {self.name!r} trains duopolies (2)")
            if self.costs is not None or self.shock_sigma:
                raise ConfigError(
                    f"costs, shock_sigma: profit-forest {self.name!r} is fine-tuned on the "
                    "default market, so it plays only that (no asymmetric costs or shocks)"
                )
            self.profit_config(0)

    @property
    def group(self) -> str:
        """Markets measured together: the economy, and whether a forest played them (its
        summary tokens are then screened too)."""
        return f"{self.economy}/forest" if self.policy == "forest" else self.economy

    def covert_params(self) -> CovertSummaryParams:
        return CovertSummaryParams(level=self.level, spread=self.spread, strength=self.strength,
                                   calibration=self.calibration)  # fmt: skip

    def pricing_config(self, n_agents: int) -> PricingConfig:
        return PricingConfig(
            n_agents=n_agents, firms_per_market=self.firms, costs=self.costs,
            cost_shock_rho=self.shock_rho, cost_shock_sigma=self.shock_sigma,
        )  # fmt: skip

    def exchange_config(self, markets: int) -> ExchangeConfig:
        traders = 2 * self.firms
        return ExchangeConfig(n_agents=markets * traders, traders_per_market=traders,
                              offer_fanout=min(3, traders - 1))  # fmt: skip

    def rotation_params(self) -> BidRotationParams:
        return BidRotationParams(level=self.level, cover_gap=self.cover_gap)

    def cartel_params(self) -> CartelParams:
        return CartelParams(
            strategy=self.strategy, level=self.level, jitter=self.jitter, spread=self.spread,
            ramp=self.ramp,
        )  # fmt: skip

    def profit_config(self, seed: int) -> ProfitConfig:
        return ProfitConfig(seating=self.seating, reward=self.reward,
                            iterations=self.train_iterations, markets=self.train_markets,
                            seed=seed)  # fmt: skip

    def q_config(self) -> QLearningConfig:
        return QLearningConfig(
            n_firms=self.firms, delta=self.delta, max_periods=self.q_max_periods,
            stable_periods=self.q_stable_periods,
            check_every=min(1_000, self.q_stable_periods),
        )  # fmt: skip
