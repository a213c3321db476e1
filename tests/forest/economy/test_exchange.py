"""The exchange economy: auction clearing, conservation, efficiency, equivariance and bad input."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from budget import examples
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from forest.economy import ROLE_ID, Messages, make_economy
from forest.economy.exchange import Exchange, ExchangeConfig
from forest.economy.messages import BID, ECHO
from forest.errors import ConfigError, InvalidInputError

FEW = settings(max_examples=examples(25), deadline=None)


def play_expert(economy: Exchange, rounds: int, *, channel: bool = True) -> None:
    for _ in range(rounds):
        actions, messages = economy.expert()
        economy.step(actions, messages if channel else None)


@st.composite
def economies_and_actions(draw: st.DrawFn) -> tuple[Exchange, list[np.ndarray]]:
    """A small exchange (coarse grids make ties common) and a few rounds of arbitrary actions."""
    size = draw(st.sampled_from([2, 4, 10]))
    levels = draw(st.integers(2, 12))
    config = ExchangeConfig(
        n_agents=size * draw(st.integers(1, 4)),
        traders_per_market=size,
        price_levels=levels,
        offer_fanout=1,
    )
    economy = Exchange(config, draw(st.integers(0, 2**16)))
    action_arrays = hnp.arrays(np.int64, config.n_agents, elements=st.integers(0, levels - 1))
    return economy, draw(st.lists(action_arrays, min_size=1, max_size=4))


def hand_made(bids: list[int], asks: list[int], values: list[float]) -> Exchange:
    """One market, levels 0..10 (price = level / 10), the given values set before trading."""
    size = len(bids) + len(asks)
    config = ExchangeConfig(n_agents=size, traders_per_market=size, price_levels=11, offer_fanout=1)
    economy = Exchange(config, seed=0)
    economy.value = np.array(values)
    return economy


def test_expert_efficiency_is_at_least_95_percent_over_3_seeds_x_50_rounds() -> None:
    for seed in range(3):
        economy = Exchange(ExchangeConfig(n_agents=500), seed)
        play_expert(economy, 50)
        metrics = economy.episode_metrics()
        assert metrics["allocative_efficiency"] >= 0.95, (seed, metrics)
        assert metrics["task_completion"] >= 0.9, (seed, metrics)


def test_expert_stays_efficient_when_the_channel_is_cut() -> None:
    economy = Exchange(ExchangeConfig(n_agents=500), seed=0)
    play_expert(economy, 20, channel=False)
    assert not economy.offers_heard.any()
    assert economy.episode_metrics()["allocative_efficiency"] >= 0.95


@pytest.mark.parametrize("preset", ["default", "thin", "thick"])
def test_every_preset_runs_the_expert_with_efficiency_in_unit_interval(preset: str) -> None:
    economy = make_economy("exchange", seed=1, config=ExchangeConfig.preset(preset))
    play_expert(economy, 5)
    assert 0.0 <= economy.episode_metrics()["allocative_efficiency"] <= 1.0


@FEW
@given(economies_and_actions())
def test_efficiency_lies_in_unit_interval_for_arbitrary_actions(case) -> None:
    economy, rounds = case
    for actions in rounds:
        metrics = economy.step(actions).metrics
        assert 0.0 <= metrics["allocative_efficiency"] <= 1.0
        assert metrics["realised_surplus"] <= metrics["max_surplus"] + 1e-9
    assert 0.0 <= economy.episode_metrics()["allocative_efficiency"] <= 1.0


@FEW
@given(economies_and_actions())
def test_money_and_goods_are_conserved_every_round_for_arbitrary_actions(case) -> None:
    economy, rounds = case
    buyer = economy.is_buyer
    for actions in rounds:
        units_before = economy.units.copy()
        economy.step(actions)
        assert economy.units.sum() == 0
        assert abs(economy.cash.sum()) < 1e-9
        change = economy.units - units_before
        assert np.array_equal(change, np.where(buyer, 1, -1) * economy.traded)
        bought = np.bincount(economy.market, weights=economy.traded & buyer)
        sold = np.bincount(economy.market, weights=economy.traded & ~buyer)
        assert np.array_equal(bought, sold)


@FEW
@given(economies_and_actions())
def test_no_trade_happens_at_a_price_outside_the_ask_and_bid_of_its_parties(case) -> None:
    economy, rounds = case
    for actions in rounds:
        cash_before = economy.cash.copy()
        economy.step(actions)
        price = economy.market_price[economy.market]
        own_quote = economy.price_of(actions)
        traded, buyer = economy.traded, economy.is_buyer
        assert np.all(price[traded & buyer] <= own_quote[traded & buyer])
        assert np.all(price[traded & ~buyer] >= own_quote[traded & ~buyer])
        paid = np.where(buyer, -1, 1) * (economy.cash - cash_before)
        assert np.allclose(paid[traded], price[traded])
        assert np.all(economy.cash[~traded] == cash_before[~traded])


@FEW
@given(economies_and_actions())
def test_the_highest_bids_and_lowest_asks_are_the_ones_that_trade(case) -> None:
    economy, rounds = case
    market, buyer = economy.market, economy.is_buyer
    for actions in rounds:
        economy.step(actions)
        for side, keen in ((buyer, actions), (~buyer, -actions)):
            worst_trading = np.full(economy.n_markets, np.inf)
            np.minimum.at(worst_trading, market[side & economy.traded], keen[side & economy.traded])
            best_idle = np.full(economy.n_markets, -np.inf)
            np.maximum.at(best_idle, market[side & ~economy.traded], keen[side & ~economy.traded])
            assert np.all(best_idle <= worst_trading)


def test_same_seed_gives_an_identical_trajectory_and_another_seed_does_not() -> None:
    runs = []
    for seed in (7, 7, 8):
        economy = Exchange(ExchangeConfig(n_agents=100), seed)
        trajectory = []
        for _ in range(5):
            actions, messages = economy.expert()
            result = economy.step(actions, messages)
            trajectory.append((economy.observe(), actions, result.task_completed, result.metrics))
        runs.append(trajectory)
    for (obs_a, act_a, done_a, met_a), (obs_b, act_b, done_b, met_b) in zip(*runs[:2], strict=True):
        assert np.array_equal(obs_a, obs_b)
        assert np.array_equal(act_a, act_b)
        assert np.array_equal(done_a, done_b)
        assert met_a == met_b
    assert not np.array_equal(runs[0][0][0], runs[2][0][0])


@pytest.mark.parametrize("preset", ["default", "thin"])
def test_relabel_permutes_actions_and_completion_and_keeps_metrics_equal(preset: str) -> None:
    original = Exchange(ExchangeConfig.preset(preset, n_agents=120), seed=3)
    play_expert(original, 2)  # so that the inbox and the ledgers are not empty
    perm = np.random.default_rng(0).permutation(original.n_agents)
    relabelled = original.relabel(perm)
    for _ in range(4):
        assert np.array_equal(relabelled.observe(), original.observe()[perm])
        actions, messages = original.expert()
        actions_r, messages_r = relabelled.expert()
        assert np.array_equal(actions_r, actions[perm])
        result = original.step(actions, messages)
        result_r = relabelled.step(actions_r, messages_r)
        assert np.array_equal(result_r.task_completed, result.task_completed[perm])
        assert result_r.metrics == result.metrics
    assert relabelled.episode_metrics() == original.episode_metrics()
    assert np.array_equal(relabelled.cash, original.cash[perm])
    assert np.array_equal(relabelled.role, original.role[perm])


@pytest.mark.parametrize(
    ("bids", "asks", "expected_quantity", "expected_level", "buyers_trading", "sellers_trading"),
    [
        ([8, 6], [2, 7], 1, 6.5, [0], [2]),  # interval [max(ask1, bid2), min(bid1, ask2)] = [6, 7]
        ([9, 8], [1, 3], 2, 5.5, [0, 1], [2, 3]),  # everyone trades: [ask2, bid2] = [3, 8]
        ([2, 1], [5, 6], 0, 3.5, [], []),  # no trade: the midpoint of best bid and best ask
        ([6, 6], [4, 7], 1, 6.0, [0], [2]),  # tied bids: the lower uid trades
        ([3, 9], [8, 0], 1, 5.5, [1], [3]),  # order within the market does not matter: [3, 8]
    ],
)
def test_hand_made_market_clears_at_the_expected_quantity_and_price(
    bids, asks, expected_quantity, expected_level, buyers_trading, sellers_trading
) -> None:
    economy = hand_made(bids, asks, [0.5, 0.5, 0.5, 0.5])
    result = economy.step(np.array(bids + asks))
    assert result.metrics["trade_volume"] == expected_quantity
    assert economy.market_price[0] == pytest.approx(expected_level / 10)
    assert np.flatnonzero(economy.traded).tolist() == buyers_trading + sellers_trading


def test_hand_made_market_scores_surplus_and_completion_from_true_values() -> None:
    # Values 0.9 and 0.7, costs 0.1 and 0.8: only buyer 0 and seller 2 belong to the efficient
    # allocation (maximum surplus 0.8). Everyone trades at 0.45, seller 3 at a loss.
    economy = hand_made([10, 9], [0, 0], [0.9, 0.7, 0.1, 0.8])
    result = economy.step(np.array([10, 9, 0, 0]))
    assert economy.market_price[0] == pytest.approx(0.45)
    assert result.metrics["max_surplus"] == pytest.approx(0.8)
    assert result.metrics["realised_surplus"] == pytest.approx(0.7)
    assert result.metrics["allocative_efficiency"] == pytest.approx(0.875)
    assert economy.profit == pytest.approx([0.45, 0.25, 0.35, -0.35])
    assert result.task_completed.tolist() == [True, True, True, False]
    assert economy.cash == pytest.approx([-0.45, -0.45, 0.45, 0.45])
    assert economy.units.tolist() == [1, 1, -1, -1]


def test_an_efficient_trader_that_does_not_trade_fails_its_task() -> None:
    economy = hand_made([0, 0], [10, 10], [0.9, 0.7, 0.1, 0.8])
    result = economy.step(np.array([0, 0, 10, 10]))
    assert result.metrics["allocative_efficiency"] == 0.0
    assert result.task_completed.tolist() == [False, True, False, True]


def test_markets_clear_independently() -> None:
    config = ExchangeConfig(n_agents=8, traders_per_market=4, price_levels=11, offer_fanout=1)
    economy = Exchange(config, seed=0)
    economy.step(np.array([8, 6, 2, 7, 2, 1, 5, 6]))
    assert economy.market_price == pytest.approx([0.65, 0.35])
    assert np.flatnonzero(economy.traded).tolist() == [0, 2]


def test_episode_metrics_are_defined_before_any_round() -> None:
    metrics = Exchange(ExchangeConfig(n_agents=20), seed=0).episode_metrics()
    assert metrics == {
        "allocative_efficiency": 1.0,
        "trade_volume": 0.0,
        "mean_clearing_price": 0.5,
        "task_completion": 0.0,
        "welfare": 0.0,
    }


def test_values_are_fresh_each_round_and_within_range() -> None:
    economy = Exchange(ExchangeConfig(n_agents=100, value_low=2.0, value_high=3.0), seed=0)
    before = economy.value.copy()
    economy.step(np.zeros(100, dtype=np.int64))
    assert not np.array_equal(before, economy.value)
    assert np.all((economy.value >= 2.0) & (economy.value <= 3.0))


def test_observation_has_the_named_columns_and_shows_each_trader_its_own_value() -> None:
    economy = Exchange(ExchangeConfig(n_agents=40), seed=0)
    play_expert(economy, 2)
    observation = economy.observe()
    assert observation.shape == (40, len(Exchange.observation_names))
    assert observation.dtype == np.float32
    column = {name: i for i, name in enumerate(Exchange.observation_names)}
    assert observation[:, column["value"]] == pytest.approx(economy.value, abs=1e-6)
    assert observation[:, column["is_buyer"]].tolist() == ([1.0] * 5 + [0.0] * 5) * 4
    assert np.all(observation[:, column["offers_heard"]] == 1.0)


def test_expert_offers_go_to_cyclic_market_neighbours_and_echo_the_inbox() -> None:
    config = ExchangeConfig(n_agents=20, traders_per_market=10, offer_fanout=3)
    economy = Exchange(config, seed=0)
    actions, messages = economy.expert()
    offers = messages.select(messages.kinds != ECHO)
    assert len(offers) == 20 * 3 and len(messages.of_kind(ECHO)) == 0
    assert offers.receiver[:3].tolist() == [1, 2, 3]
    assert offers.receiver[9 * 3 : 10 * 3].tolist() == [0, 1, 2]
    assert np.array_equal(offers.values, np.repeat(actions, 3))
    assert np.array_equal(offers.kinds == BID, np.repeat(economy.is_buyer, 3))
    economy.step(actions, messages)
    _, next_messages = economy.expert()
    echoes = next_messages.of_kind(ECHO)
    assert np.array_equal(echoes.sender, offers.receiver)
    assert np.array_equal(echoes.receiver, offers.sender)


def test_interaction_graph_is_complete_within_each_market_and_nothing_else() -> None:
    economy = Exchange(ExchangeConfig(n_agents=12, traders_per_market=4, offer_fanout=1), seed=0)
    graph = economy.interaction_graph()
    assert len(graph.src) == 3 * 4 * 3
    assert economy.are_neighbours(graph.src, graph.dst).all()
    within_market = np.kron(np.eye(3), np.ones((4, 4)) - np.eye(4))
    assert np.array_equal(graph.adjacency().toarray(), within_market)
    assert np.array_equal(
        economy.role, np.tile([ROLE_ID["buyer"]] * 2 + [ROLE_ID["seller"]] * 2, 3)
    )


@pytest.mark.parametrize(
    "bad_actions",
    [
        np.zeros(9, dtype=np.int64),
        np.zeros((10, 1), dtype=np.int64),
        np.zeros(10),
        np.full(10, np.nan),
        np.full(10, np.inf),
        np.full(10, -1),
        np.full(10, 64),
    ],
    ids=["short", "2d", "float", "nan", "inf", "negative", "past-top-level"],
)
def test_bad_actions_raise_a_value_error_naming_actions(bad_actions: np.ndarray) -> None:
    economy = Exchange(ExchangeConfig(n_agents=10), seed=0)
    with pytest.raises(InvalidInputError, match="actions") as caught:
        economy.step(bad_actions)
    assert isinstance(caught.value, ValueError)


def test_a_message_to_another_market_raises_naming_messages() -> None:
    economy = Exchange(ExchangeConfig(n_agents=20), seed=0)
    to_other_market = Messages.make(BID, np.array([0]), np.array([10]), np.array([5]))
    with pytest.raises(InvalidInputError, match="messages"):
        economy.step(np.zeros(20, dtype=np.int64), to_other_market)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("traders_per_market", 3),
        ("traders_per_market", 0),
        ("traders_per_market", 2.0),
        ("traders_per_market", True),
        ("price_levels", 1),
        ("price_levels", 5000),
        ("value_low", float("nan")),
        ("value_high", 0.0),
        ("value_high", float("inf")),
        ("shading", -0.1),
        ("shading", 1.5),
        ("offer_fanout", 0),
        ("offer_fanout", 10),
    ],
)
def test_invalid_config_fields_raise_a_config_error_naming_the_field(field: str, value) -> None:
    with pytest.raises(ConfigError, match=field):
        ExchangeConfig(**{field: value})


def test_n_agents_not_divisible_by_market_size_raises_naming_both() -> None:
    with pytest.raises(ConfigError, match=r"n_agents.*traders_per_market=10"):
        ExchangeConfig(n_agents=505)


def test_config_is_frozen_and_presets_keep_markets_whole() -> None:
    config = ExchangeConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.shading = 0.5  # type: ignore[misc]
    assert ExchangeConfig.preset("thin").traders_per_market < config.traders_per_market
    assert ExchangeConfig.preset("thick").traders_per_market > config.traders_per_market
