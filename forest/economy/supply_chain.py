"""A multi-echelon supply chain, suppliers -> warehouses -> retailers, after the beer game.

Each retailer belongs to one warehouse and each warehouse to one supplier (a seeded random forest
of trees in which every supplier and warehouse has at least one child). Every round:

1. goods shipped ``ship_lead_time`` rounds ago arrive in inventory;
2. orders placed ``order_delay`` rounds ago reach the parent and join what it owes the child;
   a supplier's order goes to an unlimited factory and ships to it after ``ship_lead_time``;
3. retailers face Poisson customer demand (``demand_base`` per round, ``demand_after`` from round
   ``demand_step_round``: the beer game's step from 4 to 8), times their tree's demand regime,
   which switches at random; unmet demand is backlogged;
4. every agent ships what it owes from stock; a short upstream stock is split in proportion to
   what each child is owed (rounded down, so goods stay integers and the split does not depend on
   agent order: the rounding remainder waits in stock for the next round);
5. holding (0.5) and backlog (1.0) costs accrue per unit-round.

Action: the integer quantity each agent orders from its parent this round.

Task completion per role, per round: a retailer completes when its customers' demand, including
any backlog, is served in full this round; a warehouse or supplier completes when it ships every
unit its children are owed. The episode's fill rate is the share of customer demand served in the
round it arrived.

Messages: each retailer reports its customer demand to its warehouse ([DEMAND, d]); each warehouse
reports its retailers' combined demand estimate to its supplier; parents echo what they receive
(redundant traffic). The expert is a base-stock (order-up-to) policy whose demand forecast uses
the downstream reports when it has fresh ones, and the orders it receives when it does not:
forecasting from orders is what amplifies variability upstream (the bullwhip effect), so cutting
the message channel measurably raises the upstream bullwhip ratio.
"""

from __future__ import annotations

import numpy as np
import torch

from forest.economy.base import ROLE_ID, Economy, InteractionGraph, RoundResult, WelfareSurrogate
from forest.economy.messages import DEMAND, Messages
from forest.economy.registry import register_economy
from forest.economy.supply_chain_config import SupplyChainConfig

SUPPLIER, WAREHOUSE, RETAILER = 0, 1, 2
ORDER_STEPS_PER_RETAILER = 2
ECHELONS = ("supplier", "warehouse", "retailer")


# Forecasts live on a dyadic grid so that sums over children are exact in float64 whatever the
# order of summation: the trajectory then cannot depend on how agents are numbered.
FORECAST_RESOLUTION = 1024.0


def smooth(old: np.ndarray, new: np.ndarray, alpha: float) -> np.ndarray:
    """Exponential smoothing, rounded to the forecast grid."""
    return np.round((old + alpha * (new - old)) * FORECAST_RESOLUTION) / FORECAST_RESOLUTION


def echelon_sizes(config: SupplyChainConfig) -> tuple[int, int, int]:
    n = config.n_agents
    suppliers = max(1, round(n * config.supplier_share))
    warehouses = max(suppliers, round(n * config.warehouse_share))
    return suppliers, warehouses, n - suppliers - warehouses


def _assign_parents(children: int, parents: int, rng: np.random.Generator) -> np.ndarray:
    """Each parent gets one child first, the remaining children pick parents at random."""
    extra = rng.integers(0, parents, size=children - parents)
    return rng.permutation(np.concatenate([np.arange(parents), extra]))


@register_economy
class SupplyChain(Economy):
    name = "supply_chain"
    welfare_name = "minus total cost (holding + backlog) per agent-round"
    description = "suppliers -> warehouses -> retailers; base-stock experts; fill rate, bullwhip"
    config_class = SupplyChainConfig
    observation_names = (
        "inventory",
        "backlog",
        "owed_by_parent",
        "inbound_goods",
        "orders_in_transit",
        "demand_seen",
        "demand_forecast",
        "inventory_position",
        "fresh_report_share",
        "lead_time",
        "log_scale",
    )
    agent_arrays = (
        "echelon",
        "parent",
        "root",
        "regime",
        "scale",
        "inventory",
        "backlog",
        "owed_by_parent",
        "ship_pipe",
        "order_pipe",
        "demand_seen",
        "demand_smoothed",
        "order_forecast",
        "report_forecast",
        "report_age",
        "last_report",
    )
    agent_id_arrays = ("parent", "root")

    def __init__(self, config: SupplyChainConfig, seed: int) -> None:
        super().__init__(config, seed)
        cfg = config
        n_sup, n_wh, n_ret = echelon_sizes(cfg)
        network_rng = np.random.default_rng(np.random.SeedSequence([self.seed, 1]))
        self.echelon = np.repeat([SUPPLIER, WAREHOUSE, RETAILER], [n_sup, n_wh, n_ret])
        self.parent = np.concatenate(
            [
                np.full(n_sup, -1),
                _assign_parents(n_wh, n_sup, network_rng),
                n_sup + _assign_parents(n_ret, n_wh, network_rng),
            ]
        ).astype(np.int64)
        root = np.where(self.parent >= 0, self.parent, np.arange(cfg.n_agents))
        self.root = np.where(self.parent[root] >= 0, self.parent[root], root)
        # Only a root's entry is read: the regime index of its tree's demand.
        self.regime = np.full(cfg.n_agents, cfg.regime_levels.index(1.0), dtype=np.int64)
        # scale: retailers served at or below an agent; flows and stocks start proportional to it.
        is_retailer = (self.echelon == RETAILER).astype(np.float64)
        self.scale = is_retailer
        for _ in range(2):  # warehouses count their retailers, then suppliers their warehouses'
            self.scale = np.maximum(is_retailer, self._sum_over_children(self.scale))
        flow = np.rint(cfg.demand_base * self.scale).astype(np.int64)
        self.inventory = cfg.initial_inventory * self.scale.astype(np.int64)
        self.backlog = np.zeros(cfg.n_agents, dtype=np.int64)  # owed to customers or children
        self.owed_by_parent = np.zeros(cfg.n_agents, dtype=np.int64)
        self.ship_pipe = np.repeat(flow[:, None], cfg.ship_lead_time, axis=1)
        self.order_pipe = np.repeat(flow[:, None], cfg.order_delay, axis=1)
        self.order_pipe[self.echelon == SUPPLIER] = 0  # the factory needs no order pipeline
        self.demand_seen = flow.astype(np.float64)
        self.demand_smoothed = flow.astype(np.float64)
        # Stored on the child's row: the parent's smoothed view of that child's orders and reports.
        self.order_forecast = flow.astype(np.float64)
        self.report_forecast = flow.astype(np.float64)
        self.report_age = np.zeros(cfg.n_agents, dtype=np.int64)
        self.last_report = flow.copy()
        self._ledger: dict[str, list[float]] = {
            k: []
            for k in (
                "demand",
                "served_new",
                "holding_cost",
                "backlog_cost",
                *(f"orders_{e}" for e in ECHELONS),
            )
        }
        self._goods_produced = 0
        self._goods_sold = 0
        self._goods_initial = self.goods_in_system()

    # --- structure -------------------------------------------------------------------------

    @property
    def n_actions(self) -> int:
        return self.config.max_order + 1

    @property
    def role(self) -> np.ndarray:
        return np.array([ROLE_ID[e] for e in ECHELONS], dtype=np.int64)[self.echelon]

    def _sum_over_children(self, values: np.ndarray) -> np.ndarray:
        has_parent = self.parent >= 0
        return np.bincount(
            self.parent[has_parent], weights=values[has_parent], minlength=self.n_agents
        )

    def are_neighbours(self, sender: np.ndarray, receiver: np.ndarray) -> np.ndarray:
        return (self.parent[sender] == receiver) | (self.parent[receiver] == sender)

    def interaction_graph(self) -> InteractionGraph:
        child = np.flatnonzero(self.parent >= 0)
        up, down = child, self.parent[child]
        return InteractionGraph(
            self.n_agents, np.concatenate([up, down]), np.concatenate([down, up])
        )

    def message_recipients(self) -> tuple[np.ndarray, np.ndarray]:
        """Each warehouse and retailer reports to its parent."""
        child = np.flatnonzero(self.parent >= 0)
        return child, self.parent[child]

    def tree_ids(self) -> np.ndarray:
        """The supplier at the root of each agent's tree."""
        return self.root.copy()

    def goods_in_system(self) -> int:
        """Units in stock or on the way; with sold and produced counts, the conservation check."""
        return int(self.inventory.sum() + self.ship_pipe.sum())

    def goods_balance(self) -> int:
        """Initial + produced - sold - in system: zero in every round if goods are conserved."""
        return (
            self._goods_initial + self._goods_produced - self._goods_sold - self.goods_in_system()
        )

    # --- dynamics ---------------------------------------------------------------------------

    def _transition(self, actions: np.ndarray) -> RoundResult:
        cfg = self.config
        is_sup, is_ret = self.echelon == SUPPLIER, self.echelon == RETAILER

        self.inventory += self.ship_pipe[:, 0]
        self.ship_pipe = np.roll(self.ship_pipe, -1, axis=1)
        self.ship_pipe[:, -1] = 0

        arrived = self.order_pipe[:, 0].copy()
        self.owed_by_parent += arrived
        self.order_pipe = np.roll(self.order_pipe, -1, axis=1)
        self.order_pipe[:, -1] = np.where(is_sup, 0, actions)
        self.ship_pipe[:, -1] += np.where(is_sup, actions, 0)
        self._goods_produced += int(actions[is_sup].sum())

        base = cfg.demand_base if self.round < cfg.demand_step_round else cfg.demand_after
        mean = base * np.asarray(cfg.regime_levels)[self.regime[self.root]]
        demand = np.where(is_ret, self.rng.poisson(mean[np.argsort(self.uid)])[self.uid], 0)

        # Retailers serve old backlog first, then this round's demand.
        old_backlog = self.backlog.copy()
        owed_customers = self.backlog + demand
        sold = np.where(is_ret, np.minimum(self.inventory, owed_customers), 0)
        served_new = np.clip(sold - old_backlog, 0, demand)
        self._goods_sold += int(sold.sum())

        # Parents ship to children in proportion to what each is owed.
        owed_total = self._sum_over_children(self.owed_by_parent).astype(np.int64)
        has_parent = self.parent >= 0
        parent = np.where(has_parent, self.parent, 0)
        stock = self.inventory[parent]
        total = owed_total[parent]
        share = np.where(
            stock >= total,
            self.owed_by_parent,
            (self.owed_by_parent * stock) // np.maximum(total, 1),
        )
        shipped = np.where(has_parent, share, 0)
        self.owed_by_parent -= shipped
        self.ship_pipe[:, -1] += shipped
        sent = self._sum_over_children(shipped).astype(np.int64)
        self.inventory -= sold + sent
        self.backlog = np.where(is_ret, owed_customers - sold, owed_total - sent)

        incoming = np.where(is_ret, demand, self._sum_over_children(arrived))
        self.demand_seen = incoming.astype(np.float64)
        alpha = cfg.forecast_smoothing
        self.demand_smoothed = smooth(self.demand_smoothed, self.demand_seen, alpha)
        self.order_forecast = smooth(self.order_forecast, arrived, alpha)

        self._switch_regimes()
        holding = cfg.holding_cost * self.inventory.sum()
        backlog_cost = cfg.backlog_cost * self.backlog.sum()
        round_figures = {
            "demand": float(demand.sum()),
            "served_new": float(served_new.sum()),
            "holding_cost": float(holding),
            "backlog_cost": float(backlog_cost),
            **{
                f"orders_{e}": float(actions[self.echelon == i].sum())
                for i, e in enumerate(ECHELONS)
            },
        }
        for key, value in round_figures.items():
            self._ledger[key].append(value)
        fill = served_new.sum() / demand.sum() if demand.sum() else 1.0
        return RoundResult(
            task_completed=self.backlog == 0,
            metrics={
                "fill_rate": float(fill),
                "holding_cost": float(holding / self.n_agents),
                "backlog_cost": float(backlog_cost / self.n_agents),
                # The beer game's own objective: what over-ordering and stock-outs both cost.
                "total_cost": float((holding + backlog_cost) / self.n_agents),
                "welfare": -float((holding + backlog_cost) / self.n_agents),
            },
        )

    def _switch_regimes(self) -> None:
        """Each tree's demand regime moves to a random level with probability regime_switch."""
        cfg = self.config
        switch = self.rng.random(self.n_agents)[self.uid] < cfg.regime_switch
        level = self.rng.integers(len(cfg.regime_levels), size=self.n_agents)[self.uid]
        self.regime = np.where(switch, level, self.regime)

    def _read_inbox(self) -> None:
        """Parents note their children's demand reports; stale ones fall back to orders."""
        reports = self.inbox.of_kind(DEMAND)
        to_parent = self.parent[reports.sender] == reports.receiver
        reporter, value = reports.sender[to_parent], reports.values[to_parent]
        self.report_age += 1
        self.report_age[reporter] = 0
        self.last_report[reporter] = value
        fresh = self.report_age == 0
        alpha = self.config.forecast_smoothing
        self.report_forecast = np.where(
            fresh, smooth(self.report_forecast, self.last_report, alpha), self.report_forecast
        )

    # --- what agents see and what the expert does -------------------------------------------

    def _child_fresh(self) -> np.ndarray:
        return self.report_age <= self.config.report_freshness

    def demand_forecast(self) -> np.ndarray:
        """Per agent: smoothed downstream demand, from a child's reports while they are fresh and
        from its orders otherwise; a retailer smooths its own customer demand."""
        per_child = np.where(self._child_fresh(), self.report_forecast, self.order_forecast)
        from_children = self._sum_over_children(per_child)
        return np.where(self.echelon == RETAILER, self.demand_smoothed, from_children)

    def action_unit(self) -> np.ndarray:
        """Half a unit per retailer served: orders scale with the agent's tree."""
        return self.scale / ORDER_STEPS_PER_RETAILER

    def lead_time(self) -> np.ndarray:
        cfg = self.config
        return np.where(
            self.echelon == SUPPLIER, cfg.ship_lead_time, cfg.ship_lead_time + cfg.order_delay
        )

    def inventory_position(self) -> np.ndarray:
        return (
            self.inventory
            + self.ship_pipe.sum(axis=1)
            + self.order_pipe.sum(axis=1)
            + self.owed_by_parent
            - self.backlog
        )

    def fresh_report_share(self) -> np.ndarray:
        children = self._sum_over_children(np.ones(self.n_agents))
        fresh = self._sum_over_children(self._child_fresh().astype(np.float64))
        return np.where(children > 0, fresh / np.maximum(children, 1.0), 1.0)

    def observe(self) -> np.ndarray:
        s = self.scale
        columns = (
            self.inventory / s,
            self.backlog / s,
            self.owed_by_parent / s,
            self.ship_pipe.sum(axis=1) / s,
            self.order_pipe.sum(axis=1) / s,
            self.demand_seen / s,
            self.demand_forecast() / s,
            self.inventory_position() / s,
            self.fresh_report_share(),
            self.lead_time().astype(np.float64),
            np.log(s),
        )
        return np.stack(columns, axis=1).astype(np.float32)

    def expert(self) -> tuple[np.ndarray, Messages]:
        """Order up to forecast * (lead + 1) + safety stock; report demand; echo what came in.

        With per-echelon parameters (``stock_correction`` b, ``trend_weight`` k), the order is
        b * gap + (1 - b) * forecast + k * (demand seen - forecast), where gap is the distance
        to the order-up-to level; b = 1, k = 0 is the plain policy, to the last bit.
        """
        cfg = self.config
        forecast = self.demand_forecast()
        gap = self._order_up_to(forecast) - self.inventory_position()
        correction = np.asarray(cfg.stock_correction)[self.echelon]
        trend = np.asarray(cfg.trend_weight)[self.echelon] * (self.demand_seen - forecast)
        order = correction * gap + (1.0 - correction) * forecast + trend
        actions = np.clip(np.rint(order), 0, cfg.max_order).astype(np.int64)

        child, parent = self.message_recipients()
        report = np.where(self.echelon == RETAILER, self.demand_seen, forecast)[child]
        reports = Messages.make(DEMAND, child, parent, np.rint(report))
        return actions, Messages.concat(reports, self.inbox.echoes())

    def _order_up_to(self, forecast: np.ndarray) -> np.ndarray:
        """The expert's target inventory position: forecast demand over lead time + 1, plus
        safety stock."""
        cfg = self.config
        safety = (
            cfg.safety_share
            if cfg.echelon_safety_shares is None
            else np.asarray(cfg.echelon_safety_shares)[self.echelon]
        )
        return forecast * (self.lead_time() + 1) * (1.0 + safety)

    def welfare_surrogate(self) -> WelfareSurrogate:
        """Minus the newsvendor cost of each agent's order: the inventory position it leaves
        above the expert's order-up-to level is held (``holding_cost`` per unit), what it leaves
        below is owed (``backlog_cost``), in expectation over the order distribution, per
        agent. It prices one round's orders by the economy's own costs, where the step would
        charge them only rounds later, after lead times and rationing."""
        cfg = self.config
        shortfall = self._order_up_to(self.demand_forecast()) - self.inventory_position()
        excess = torch.arange(self.n_actions, dtype=torch.float32)[None, :] - torch.from_numpy(
            shortfall.astype(np.float32))[:, None]  # fmt: skip
        cost = cfg.holding_cost * excess.clamp_min(0) + cfg.backlog_cost * (-excess).clamp_min(0)

        def welfare(probs: torch.Tensor) -> torch.Tensor:
            return -(probs * cost).sum() / self.n_agents

        return welfare

    # --- metrics ----------------------------------------------------------------------------

    def episode_metrics(self) -> dict[str, float]:
        led = {k: np.asarray(v) for k, v in self._ledger.items()}
        rounds = max(len(led["demand"]), 1)
        demand_total = led["demand"].sum()
        demand_var = led["demand"].var() if led["demand"].size > 1 else 0.0
        metrics = {
            "fill_rate": float(led["served_new"].sum() / demand_total) if demand_total else 1.0,
            "holding_cost": float(led["holding_cost"].sum() / (rounds * self.n_agents)),
            "backlog_cost": float(led["backlog_cost"].sum() / (rounds * self.n_agents)),
        }
        metrics["total_cost"] = metrics["holding_cost"] + metrics["backlog_cost"]
        metrics["welfare"] = -metrics["total_cost"]
        for e in ECHELONS:
            orders = led[f"orders_{e}"]
            ratio = orders.var() / demand_var if demand_var > 0 else float("nan")
            metrics[f"bullwhip_{e}"] = float(ratio)
        return metrics
