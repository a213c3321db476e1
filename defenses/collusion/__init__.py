"""Collusion and price-fixing screens over markets' price series and auction asks (``base.Screen``).

Importing the package registers every screen; ``make_screen(name)`` builds one.
"""

from defenses.collusion import (  # noqa: F401  (imported to register)
    bid_rigging,
    covert_channel,
    cusum,
    granger,
    parallelism,
    profit_gain,
    punishment_probe,
    summary_channel,
    variance,
)
from defenses.collusion.auction_panel import AuctionPanel
from defenses.collusion.base import Screen
from defenses.collusion.panel import PricePanel
from defenses.collusion.registry import make_screen, screen_names
from forest.plugins import load_plugins

__all__ = ["AuctionPanel", "PricePanel", "Screen", "make_screen", "screen_names"]

# Third-party screens register through their entry points (forest.plugins).
load_plugins("forest_redteam.screens")
