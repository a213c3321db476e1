import numpy as np
import pytest
from budget import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from forest.economy import Messages, make_economy
from forest.economy.messages import PRICE
from forest.economy.pricing import Pricing, PricingConfig, consumer_surplus
from forest.economy.pricing_solver import logit_shares, profits, solve_monopoly, solve_nash
from forest.economy.rollout import expert_policy, play
from forest.errors import ConfigError, InvalidInputError

FAST = settings(max_examples=examples(25), deadline=None)
PRESETS = sorted(PricingConfig.presets)


def small(preset: str = "default", **overrides) -> PricingConfig:
    """A preset at a size that keeps property tests fast, with every firm count dividing it."""
    return PricingConfig.preset(preset, **{"n_agents": 60, **overrides})


def random_prices(economy: Pricing, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, economy.n_actions, size=economy.n_agents)


def test_expert_profit_gain_stays_near_competition_over_three_seeds():
    gains = [play(Pricing(PricingConfig(), seed), expert_policy(), 50).metrics for seed in range(3)]
    delta = np.mean([metrics["profit_gain"] for metrics in gains])
    assert -0.1 <= delta <= 0.15
    assert np.mean([metrics["task_completion"] for metrics in gains]) >= 0.9


def test_benchmarks_match_the_solver_for_the_default_market():
    metrics = play(Pricing(PricingConfig(), 0), expert_policy(), 1).metrics
    assert metrics["nash_price"] == pytest.approx(1.4729, abs=1e-3)
    assert metrics["monopoly_price"] == pytest.approx(1.9250, abs=1e-3)


def test_profit_gain_is_zero_at_nash_prices_and_one_at_monopoly_prices():
    # With no margin and two points, the grid is exactly {p_Nash, p_monopoly}.
    economy = Pricing(PricingConfig(n_agents=40, grid_points=2, grid_margin=0.0), 0)
    at_nash = economy.step(np.zeros(40, dtype=np.int64))
    at_monopoly = economy.step(np.ones(40, dtype=np.int64))
    assert at_nash.metrics["profit_gain"] == pytest.approx(0.0, abs=1e-9)
    assert at_monopoly.metrics["profit_gain"] == pytest.approx(1.0, abs=1e-9)
    assert at_nash.task_completed.all() and at_monopoly.task_completed.all()


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_plays_an_expert_episode_with_finite_metrics(preset):
    economy = make_economy("pricing", 1, PricingConfig.preset(preset))
    episode = play(economy, expert_policy(), 5)
    assert all(np.isfinite(value) for value in episode.metrics.values())
    observations = economy.observe()
    assert observations.shape == (economy.n_agents, len(Pricing.observation_names))
    assert observations.dtype == np.float32 and np.all(np.isfinite(observations))


def test_asymmetric_benchmarks_are_solved_per_firm_position():
    economy = Pricing(PricingConfig.preset("asymmetric"), 0)
    costs = np.array([0.9, 1.1])
    np.testing.assert_allclose(economy.bench.nash_prices[0], solve_nash(2.0, costs, 0, 0.25).prices)
    monopoly = solve_monopoly(2.0, costs, 0, 0.25)
    np.testing.assert_allclose(economy.bench.monopoly_profits[0], monopoly.profits)


@FAST
@given(preset=st.sampled_from(PRESETS), noise=st.floats(0.0, 1.0), seed=st.integers(0, 2**16))
def test_expert_prices_stay_on_the_grid(preset, noise, seed):
    economy = Pricing(small(preset, best_response_noise=noise), seed)
    for _ in range(6):
        actions, messages = economy.expert()
        assert actions.dtype.kind == "i"
        assert actions.min() >= 0 and actions.max() < economy.n_actions
        metrics = economy.step(actions, messages).metrics
        grid_price = metrics["mean_price"] - metrics["mean_cost_level"]
        assert grid_price == pytest.approx(economy.grid[actions].mean())


@FAST
@given(preset=st.sampled_from(PRESETS), seed=st.integers(0, 2**16))
def test_consumer_spending_equals_firm_revenue_every_round(preset, seed):
    economy = Pricing(small(preset), seed)
    rng = np.random.default_rng(seed)
    for _ in range(5):
        cash_before = economy.cash.copy()
        result = economy.step(random_prices(economy, rng))
        spending, revenue = result.metrics["consumer_spending"], result.metrics["firm_revenue"]
        assert spending == pytest.approx(revenue, rel=1e-12)
        np.testing.assert_allclose(economy.cash - cash_before, economy.last_profit, atol=1e-15)


@FAST
@given(preset=st.sampled_from(PRESETS), seed=st.integers(0, 2**16))
def test_inside_and_outside_shares_sum_to_one_in_every_round(preset, seed):
    economy = Pricing(small(preset), seed)
    rng = np.random.default_rng(seed)
    for _ in range(5):
        result = economy.step(random_prices(economy, rng))
        inside_per_market = np.bincount(economy.market, weights=economy.last_quantity)
        assert np.all(inside_per_market < 1.0) and np.all(economy.last_quantity > 0)
        total = inside_per_market.mean() + result.metrics["outside_share"]
        assert total == pytest.approx(1.0, abs=1e-12)


@FAST
@given(preset=st.sampled_from(PRESETS), seed=st.integers(0, 2**16))
def test_same_seed_gives_an_identical_trajectory(preset, seed):
    runs = []
    for _ in range(2):
        economy = Pricing(small(preset), seed)
        trace = []
        for _ in range(4):
            actions, messages = economy.expert()
            result = economy.step(actions, messages)
            trace.append((actions, result.task_completed, result.metrics, economy.observe()))
        runs.append(trace)
    for (a1, c1, m1, o1), (a2, c2, m2, o2) in zip(*runs, strict=True):
        assert np.array_equal(a1, a2) and np.array_equal(c1, c2) and np.array_equal(o1, o2)
        assert m1 == m2


@FAST
@given(
    preset=st.sampled_from(PRESETS),
    seed=st.integers(0, 2**16),
    rounds_before=st.integers(0, 3),
)
def test_relabel_permutes_actions_and_completion_and_leaves_metrics_equal(
    preset, seed, rounds_before
):
    economy = Pricing(small(preset), seed)
    for _ in range(rounds_before):
        economy.step(*economy.expert())
    perm = np.random.default_rng(seed).permutation(economy.n_agents)
    other = economy.relabel(perm)
    for _ in range(5):
        actions, messages = economy.expert()
        other_actions, other_messages = other.expert()
        assert np.array_equal(other_actions, actions[perm])
        result, other_result = (
            economy.step(actions, messages),
            other.step(other_actions, other_messages),
        )
        assert np.array_equal(other_result.task_completed, result.task_completed[perm])
        for name, value in result.metrics.items():
            assert other_result.metrics[name] == pytest.approx(value, rel=1e-12, abs=1e-15)
        np.testing.assert_allclose(other.observe(), economy.observe()[perm])
    for name, value in economy.episode_metrics().items():
        assert other.episode_metrics()[name] == pytest.approx(value, rel=1e-12)


@FAST
@given(preset=st.sampled_from(PRESETS), seed=st.integers(0, 2**16))
def test_expert_best_response_maximises_logit_profit_against_the_quoted_prices(preset, seed):
    economy = Pricing(small(preset, best_response_noise=0.0), seed)
    quoted = random_prices(economy, np.random.default_rng(seed))
    graph = economy.interaction_graph()
    economy.step(quoted, Messages.make(PRICE, graph.src, graph.dst, quoted[graph.src]))
    best = economy.expert()[0]
    cfg, k = economy.config, economy.k
    for agent in range(economy.n_agents):
        market, position = divmod(agent, k)
        shift = economy.levels[economy.cost_level_index[market]]
        prices = np.tile(economy.grid[quoted[market * k : (market + 1) * k]], (cfg.grid_points, 1))
        prices[:, position] = economy.grid
        c = np.array(cfg.firm_costs) + shift
        own = profits(prices + shift, cfg.quality, c, cfg.outside_quality, cfg.mu)[:, position]
        assert best[agent] == own.argmax()


def test_a_high_quote_raises_the_best_response_and_a_cut_channel_falls_back_to_the_market():
    config = PricingConfig(n_agents=2, best_response_noise=0.0)
    top = config.grid_points - 1
    responses = {}
    for quote in (0, top):
        economy = Pricing(config, 0)
        economy.step(np.array([top // 2, top // 2]), Messages.make(PRICE, [1], [0], [quote]))
        responses[quote] = economy.expert()[0][0]
    assert responses[top] > responses[0]
    # With no quote, firm 0 answers the public mean of the last round's prices.
    silent = Pricing(config, 0)
    silent.step(np.array([0, top]))
    heard = Pricing(config, 0)
    heard.step(np.array([0, top]), Messages.make(PRICE, [1], [0], [top // 2]))
    assert silent.expert()[0][0] == heard.expert()[0][0]
    assert silent.observe()[0, Pricing.observation_names.index("rivals_heard")] == 0.0


def test_a_flood_of_quotes_counts_as_at_most_all_rivals():
    config = PricingConfig(n_agents=3, firms_per_market=3, best_response_noise=0.0)
    sender, receiver = np.ones(50, dtype=np.int64), np.zeros(50, dtype=np.int64)
    flood = Messages.make(PRICE, sender, receiver, np.full(50, 14))
    economy = Pricing(config, 0)
    economy.step(np.zeros(3, dtype=np.int64), flood)
    heard = economy.observe()[0, Pricing.observation_names.index("rivals_heard")]
    assert heard == 1.0
    assert 0 <= economy.expert()[0][0] < economy.n_actions


def test_expert_quotes_its_price_to_each_rival_and_echoes_what_it_received():
    economy = Pricing(PricingConfig(n_agents=6, firms_per_market=3), 0)
    actions, messages = economy.expert()
    quotes = messages.of_kind(PRICE)
    assert len(quotes) == 6 * 2
    assert np.array_equal(quotes.values, actions[quotes.sender])
    assert np.all(economy.are_neighbours(quotes.sender, quotes.receiver))
    economy.step(actions, messages)
    _, replies = economy.expert()
    assert len(replies) == 2 * len(quotes)


def test_interaction_graph_is_complete_within_each_market_and_empty_across():
    economy = Pricing(PricingConfig(n_agents=12, firms_per_market=3), 0).relabel(
        np.random.default_rng(0).permutation(12)
    )
    graph = economy.interaction_graph()
    adjacency = graph.adjacency().toarray().astype(bool)
    same_market = economy.market[:, None] == economy.market[None, :]
    assert np.array_equal(adjacency, same_market & ~np.eye(12, dtype=bool))
    distance = graph.hop_distance(np.array([0]))
    assert np.array_equal(distance >= 0, same_market[0])


def test_cost_shock_levels_follow_the_ar1_process():
    config = PricingConfig(n_agents=40_000, cost_shock_rho=0.9, cost_shock_sigma=0.05)
    economy = Pricing(config, 0)
    before = economy.levels[economy.cost_level_index]
    economy.step(np.zeros(config.n_agents, dtype=np.int64))
    after = economy.levels[economy.cost_level_index]
    sd = 0.05 / np.sqrt(1 - 0.9**2)
    assert before.std() == pytest.approx(sd, rel=0.05)
    assert np.corrcoef(before, after)[0, 1] == pytest.approx(0.9, abs=0.02)


def test_episode_metrics_are_nan_before_the_first_round():
    metrics = Pricing(PricingConfig(n_agents=4), 0).episode_metrics()
    assert all(np.isnan(value) for value in metrics.values())


def test_costs_given_as_a_list_from_toml_become_a_tuple():
    assert PricingConfig(costs=[0.9, 1.1]).costs == (0.9, 1.1)


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        (np.zeros(59, dtype=np.int64), "actions: expected shape"),
        (np.zeros(60, dtype=np.float64), "actions: expected an integer dtype"),
        (np.full(60, np.nan), "actions: expected finite"),
        (np.full(60, 15, dtype=np.int64), r"actions: expected values in \[0, 14\]"),
        (np.full(60, -1, dtype=np.int64), r"actions: expected values in \[0, 14\]"),
    ],
)
def test_bad_actions_raise_value_error_naming_actions(actions, message):
    with pytest.raises(InvalidInputError, match=message):
        Pricing(small(), 0).step(actions)


def test_a_message_to_a_firm_in_another_market_is_rejected():
    economy = Pricing(small(), 0)
    outside_market = Messages.make(PRICE, [0], [2], [3])
    with pytest.raises(ValueError, match=r"^messages: agent 0 cannot message agent 2"):
        economy.step(np.zeros(60, dtype=np.int64), outside_market)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"firms_per_market": 1}, "firms_per_market"),
        ({"firms_per_market": 2.0}, "firms_per_market"),
        ({"n_agents": 501}, "n_agents"),
        ({"n_agents": 500, "firms_per_market": 3}, "n_agents"),
        ({"quality": float("nan")}, "quality"),
        ({"outside_quality": "0"}, "outside_quality"),
        ({"mu": 0.0}, "mu"),
        ({"cost": -1.0}, "cost"),
        ({"costs": (1.0,)}, "costs"),
        ({"costs": (1.0, float("inf"))}, r"costs\[1\]"),
        ({"grid_points": 1}, "grid_points"),
        ({"grid_points": 5000}, "grid_points"),
        ({"grid_margin": -0.1}, "grid_margin"),
        ({"cost_shock_rho": 1.0}, "cost_shock_rho"),
        ({"cost_shock_rho": -1.0}, "cost_shock_rho"),
        ({"cost_shock_sigma": -0.1}, "cost_shock_sigma"),
        ({"shock_levels": 20}, "shock_levels"),
        ({"best_response_noise": 1.5}, "best_response_noise"),
        ({"completion_tolerance": -0.1}, "completion_tolerance"),
    ],
)
def test_invalid_config_fields_raise_config_error_naming_the_field(overrides, field):
    with pytest.raises(ConfigError, match=f"^{field}: expected"):
        PricingConfig(**overrides)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"costs": (0.0, 1.5)}, "costs"), ({"mu": 0.001}, "mu")],
)
def test_markets_without_a_usable_benchmark_or_grid_are_rejected_at_construction(overrides, field):
    with pytest.raises(ConfigError, match=f"^{field}"):
        Pricing(PricingConfig(**overrides), 0)


def test_the_economy_is_registered_under_its_name():
    assert isinstance(make_economy("pricing", 0, n_agents=10), Pricing)


def test_consumer_surplus_falls_as_prices_rise_at_the_rate_of_demand():
    """Roy's identity: d(surplus)/d(p_j) = -(share of firm j), for logit demand."""
    prices = np.array([[1.5, 1.7], [1.6, 1.4]])  # (firms, markets)
    a, a0, mu = 2.0, 0.0, 0.25
    step = 1e-6
    raised = prices.copy()
    raised[0, 0] += step
    slope = (consumer_surplus(raised, a, a0, mu) - consumer_surplus(prices, a, a0, mu)) / step
    shares, _ = logit_shares(prices, a, a0, mu, axis=0)
    # The surplus is a mean over the two markets.
    assert slope == pytest.approx(-shares[0, 0] / 2, rel=1e-4)


def test_firms_quote_their_rivals_the_price_they_charge():
    world = Pricing(PricingConfig(n_agents=6), 0)
    actions = np.array([4, 5, 6, 7, 8, 9])
    quotes = world.quotes(actions)
    assert np.array_equal(quotes.values, actions[quotes.sender])
    assert np.all(world.are_neighbours(quotes.sender, quotes.receiver))
    assert len(quotes) == 6  # one rival each in a duopoly
