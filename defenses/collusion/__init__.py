"""Collusion and price-fixing screens over markets' price series (see ``base.Screen``).

Importing the package registers every screen; ``make_screen(name)`` builds one.
"""

from defenses.collusion import (  # noqa: F401  (imported to register)
    covert_channel,
    cusum,
    granger,
    parallelism,
    profit_gain,
    punishment_probe,
    variance,
)
from defenses.collusion.base import Screen
from defenses.collusion.panel import PricePanel
from defenses.collusion.registry import make_screen, screen_names

__all__ = ["PricePanel", "Screen", "make_screen", "screen_names"]
