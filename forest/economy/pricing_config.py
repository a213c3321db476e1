"""The pricing economy's config: market parameters, price grid, cost shock, expert noise."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from forest.economy.config import EconomyConfig
from forest.economy.messages import MAX_MESSAGE_VALUE
from forest.validation import require, require_float, require_int

# The discretised AR(1) cost shock covers this many stationary standard deviations each side.
_SHOCK_SDS = 3.0


@dataclasses.dataclass(frozen=True)
class PricingConfig(EconomyConfig):
    """Market parameters, the price grid, the optional cost shock and the expert's noise."""

    n_agents: int = 500  # firms, in markets of ``firms_per_market``
    firms_per_market: int = 2  # Bertrand competitors per market
    quality: float = 2.0  # a_i of Calvano et al.'s logit demand: every product's quality
    outside_quality: float = 0.0  # a_0: the outside good's quality
    mu: float = 0.25  # horizontal differentiation (logit scale); 0 would be perfect substitutes
    cost: float = 1.0  # marginal cost c of every firm (see ``costs``)
    costs: tuple[float, ...] | None = None  # per position in a market, for asymmetric firms
    grid_points: int = 15  # prices a firm may set (its action classes)
    grid_margin: float = 0.1  # grid: Nash to monopoly, widened by this share of the gap
    cost_shock_rho: float = 0.0  # AR(1) persistence of a market's common cost shock
    cost_shock_sigma: float = 0.0  # its innovation's standard deviation (0: no shock)
    shock_levels: int = 21  # the shock is discretised onto this many levels (3 sds each side)
    best_response_noise: float = 0.05  # chance the expert moves one grid step off its best response
    completion_tolerance: float = 0.05  # task: profit within this share of the Nash profit

    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "default": {},
        "duopoly": {"firms_per_market": 2},
        "triopoly": {"n_agents": 600, "firms_per_market": 3},
        "cost-shocks": {"cost_shock_rho": 0.9, "cost_shock_sigma": 0.05},
        "asymmetric": {"costs": (0.9, 1.1)},
    }

    def validate(self) -> None:
        k = self.firms_per_market
        require_int(k, "firms_per_market", 2, 64)
        expected = f"a multiple of firms_per_market={k} (markets all have k firms)"
        require(self.n_agents % k == 0, "n_agents", expected, self.n_agents)
        require_float(self.quality, "quality")
        require_float(self.outside_quality, "outside_quality")
        require_float(self.mu, "mu", 0.0, low_open=True)
        require_float(self.cost, "cost", 0.0)
        if self.costs is not None:
            ok = isinstance(self.costs, tuple) and len(self.costs) == k
            require(ok, "costs", f"None or a tuple of firms_per_market={k} costs", self.costs)
            for i, value in enumerate(self.costs):
                require_float(value, f"costs[{i}]", 0.0)
        require_int(self.grid_points, "grid_points", 2, MAX_MESSAGE_VALUE + 1)
        require_float(self.grid_margin, "grid_margin", 0.0, 1.0)
        require_float(self.cost_shock_rho, "cost_shock_rho", -1.0, 1.0, low_open=True)
        require(self.cost_shock_rho < 1.0, "cost_shock_rho", "a number < 1", self.cost_shock_rho)
        require_float(self.cost_shock_sigma, "cost_shock_sigma", 0.0)
        require_int(self.shock_levels, "shock_levels", 1, 1001)
        # Odd, so that the mean cost is one of the levels.
        require(self.shock_levels % 2 == 1, "shock_levels", "an odd number", self.shock_levels)
        require_float(self.best_response_noise, "best_response_noise", 0.0, 1.0)
        require_float(self.completion_tolerance, "completion_tolerance", 0.0, 1.0)

    @property
    def firm_costs(self) -> tuple[float, ...]:
        """Marginal cost of each position in a market, before the common cost shock."""
        return self.costs if self.costs is not None else (self.cost,) * self.firms_per_market

    @property
    def cost_shock_sd(self) -> float:
        """Stationary standard deviation of the AR(1) common cost shock."""
        return self.cost_shock_sigma / float(np.sqrt(1.0 - self.cost_shock_rho**2))

    def cost_levels(self) -> np.ndarray:
        """The common cost shifts the AR(1) shock is discretised to (just 0 when it is off)."""
        if self.cost_shock_sigma == 0.0 or self.shock_levels == 1:
            return np.zeros(1)
        reach = _SHOCK_SDS * self.cost_shock_sd
        return np.linspace(-reach, reach, self.shock_levels)
