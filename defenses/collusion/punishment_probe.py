"""The deviation-punishment probe: force one firm to undercut once, and watch its rivals.

Calvano et al. test whether learned high prices are collusion by forcing one firm to deviate for
a single period and tracing its rivals: a cartel punishes (prices drop below their path) and
returns; competitors barely react. Given the market replayed with firm 0 forced to deviate in
round d (``probed``) next to the unforced run (``prices``):

    punishment_m = mean over t in d+1..d+W and rivals j != 0 of
                   (p_mtj - probed_mtj) / (p^M_mt - p^N_mt)

0 if the rivals ignore the deviation, large if they cut prices after it. W (``WINDOW``) rounds
are read, fewer when the series ends sooner. Honest firms that best-respond to a rival's quote
follow a price cut a little (prices are strategic complements): the probe's hard negative.
"""

from __future__ import annotations

import numpy as np

from defenses.collusion.base import Screen
from defenses.collusion.panel import PricePanel
from defenses.collusion.registry import register_screen
from forest.errors import InvalidInputError

WINDOW = 5


@register_screen
class PunishmentProbe(Screen):
    name = "punishment-probe"
    description = "how far rivals cut prices after one forced deviation (Calvano's probe)"
    needs = ("probed",)

    def _score(self, panel: PricePanel) -> np.ndarray:
        start = panel.deviation_round + 1
        stop = min(start + WINDOW, panel.n_rounds)
        if start >= stop:
            raise InvalidInputError(
                f"deviation_round: the probe needs at least one round after the deviation, "
                f"got round {panel.deviation_round} of {panel.n_rounds}"
            )
        gap = (panel.monopoly - panel.nash)[:, start:stop, None]
        drop = (panel.prices - panel.probed)[:, start:stop, 1:] / gap
        return drop.mean(axis=(1, 2))
