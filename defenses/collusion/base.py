"""What every collusion screen is: a named score per market, higher meaning more cartel-like.

A screen reads a ``PricePanel`` and returns one finite number per market; screens never return
NaN, so a degenerate market (prices that never move) gets a defined score, documented with the
screen's formula. Screens that need more than prices (profits, message quotes, a probe replay)
say so in ``needs`` and raise a clear error when the panel lacks it. A market's score depends
on that market alone, never on the other markets in its panel. Registering a class in
``registry`` is all it takes to add one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from defenses.collusion.panel import PricePanel


class Screen(ABC):
    name: ClassVar[str]
    description: ClassVar[str]
    needs: ClassVar[tuple[str, ...]] = ()  # optional panel series the screen reads
    panel_type: ClassVar[type] = PricePanel  # what it reads: prices, or auction asks

    def _check(self, panel: Any) -> None:
        if not isinstance(panel, self.panel_type):
            raise TypeError(
                f"panel: the {self.name} screen reads a {self.panel_type.__name__}, "
                f"got {type(panel).__name__}"
            )
        for what in self.needs:
            panel.require(what, self.name)

    @abstractmethod
    def _score(self, panel: Any) -> np.ndarray:
        """(M,) the raw score of each market."""

    def score(self, panel: Any) -> np.ndarray:
        """(M,) finite suspicion score per market; higher means more cartel-like."""
        self._check(panel)
        scores = np.asarray(self._score(panel), dtype=np.float64)
        if scores.shape != (panel.n_markets,) or not np.isfinite(scores).all():
            raise AssertionError(f"screen {self.name} returned a non-finite or misshapen score")
        return scores
