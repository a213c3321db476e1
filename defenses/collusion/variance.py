"""The variance screen (Abrantes-Metz, Froeb, Geweke and Taylor 2006): cartels price steadily.

    CV_mi = sd_t(p_mti) / mean_t(p_mti)          (coefficient of variation of firm i's price)
    score_m = -log(mean_i CV_mi + 1e-6)

Abrantes-Metz et al. found the price variance of a frozen-fish cartel rose by far once it
collapsed; a low coefficient of variation is the flag. The log spreads the small values apart
and the 1e-6 keeps a price that never moves finite (score 13.8). The coefficient of variation is
unit-free, so the score does not depend on the currency. Honest markets with stable costs also
price steadily, which is the screen's known weakness.
"""

from __future__ import annotations

import numpy as np

from defenses.collusion.base import Screen
from defenses.collusion.panel import PricePanel
from defenses.collusion.registry import register_screen
from forest.errors import InvalidInputError


@register_screen
class VarianceScreen(Screen):
    name = "variance"
    description = "low coefficient of variation of prices over time (Abrantes-Metz et al. 2006)"

    def _score(self, panel: PricePanel) -> np.ndarray:
        mean = panel.prices.mean(axis=1)  # (M, k)
        if not (mean > 0).all():
            raise InvalidInputError(
                "prices: the variance screen needs positive prices (a coefficient of variation "
                "of prices around zero means nothing)"
            )
        cv = panel.prices.std(axis=1) / mean
        return -np.log(cv.mean(axis=1) + 1e-6)
