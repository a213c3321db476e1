"""Granger causality between firms' prices: does one firm's past price predict another's?

For each ordered pair of firms (i -> j) of a market and ``lags`` L, two least-squares fits of
firm j's price on a constant and lags 1..L of the prices:

    restricted:  p_j,t = a + sum_l b_l p_j,t-l                        residual sum RSS_r
    full:        p_j,t = a + sum_l b_l p_j,t-l + sum_l c_l p_i,t-l    residual sum RSS_f
    F_ij = ((RSS_r - RSS_f) / L) / (RSS_f / (n - 2L - 1)),   n = T - L observations
    score_m = max over ordered pairs of log(1 + F_ij)

This is statsmodels' ``grangercausalitytests`` SSR F-test (the tests check it against statsmodels
to 1e-8), written here over every market at once with batched pseudo-inverses because screening
500 markets must take well under two seconds and statsmodels fits one market per call. Price
leadership that rivals follow, as in a cartel run by messages, shows up as a large F; honest
firms that best-respond to their rivals' last quotes Granger-cause each other too.

Degenerate series stay finite: if firm j's price is perfectly explained without firm i (RSS_r
at round-off), F is 0; if it is perfectly explained only with firm i, RSS_f is floored at 1e-12
of RSS_r, which caps F.
"""

from __future__ import annotations

import itertools

import numpy as np

from defenses.collusion.base import Screen
from defenses.collusion.panel import PricePanel
from defenses.collusion.registry import register_screen


def _lagged(prices: np.ndarray, lags: int) -> np.ndarray:
    """(M, T-L, L) lags 1..L of a (M, T) series, aligned with its rows L..T-1."""
    rounds = prices.shape[1]
    return np.stack([prices[:, lags - lag : rounds - lag] for lag in range(1, lags + 1)], axis=2)


def _residual_sum(design: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(M,) residual sum of squares of the least-squares fit of each market's target."""
    coefficients = np.linalg.pinv(design) @ target[:, :, None]  # (M, p, 1)
    residual = target - (design @ coefficients)[:, :, 0]
    return np.einsum("mt,mt->m", residual, residual)


def granger_f(prices: np.ndarray, cause: int, effect: int, lags: int) -> np.ndarray:
    """(M,) F statistic of ``cause`` Granger-causing ``effect`` in prices (M, T, k)."""
    y_all = prices[:, :, effect]
    # Centre and scale per market so that the pseudo-inverse's cut-off is unit-free.
    centre = prices.mean(axis=(1, 2))[:, None]
    scale = np.maximum(prices.std(axis=(1, 2)), 1e-300)[:, None]
    own = (y_all - centre) / scale
    other = (prices[:, :, cause] - centre) / scale
    target = own[:, lags:]
    markets, n = target.shape
    constant = np.ones((markets, n, 1))
    restricted = np.concatenate([constant, _lagged(own, lags)], axis=2)
    full = np.concatenate([restricted, _lagged(other, lags)], axis=2)
    rss_r = _residual_sum(restricted, target)
    rss_f = np.minimum(_residual_sum(full, target), rss_r)
    dof = n - 2 * lags - 1
    explained = rss_r > 1e-20 * n
    rss_f = np.maximum(rss_f, 1e-12 * rss_r)
    f = ((rss_r - rss_f) / lags) / np.where(explained, rss_f / dof, 1.0)
    return np.where(explained, f, 0.0)


@register_screen
class Granger(Screen):
    name = "granger"
    description = "largest Granger-causality F between two firms' prices (log 1 + F)"
    lags = 1  # Calvano's agents remember one period

    def _score(self, panel: PricePanel) -> np.ndarray:
        pairs = itertools.permutations(range(panel.n_firms), 2)
        stats = [granger_f(panel.prices, i, j, self.lags) for i, j in pairs]
        return np.log1p(np.max(stats, axis=0))
