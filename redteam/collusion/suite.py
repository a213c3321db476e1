"""The collusion benchmark's suite file: which markets to simulate and how to split and score them.

A TOML file with the benchmark's settings at the top level and one ``[[scenarios]]`` table per
family of markets (the fields of ``scenarios.Scenario``). Nothing in it is executed; unknown
keys, wrong types and impossible settings are refused with the field named.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from defenses.collusion import AuctionPanel, PricePanel, make_screen, screen_names
from forest.errors import ConfigError
from forest.params import from_dict
from forest.validation import require, require_float, require_int
from redteam.collusion.scenarios import Scenario


@dataclass(frozen=True)
class CollusionSuite:
    """Settings of one benchmark; every screen reads the last ``window`` rounds of a market.

    Each group of scenarios (``Scenario.group``: pricing, exchange, or pricing played by the
    forest) is scored by its own screens and needs one honest scenario among ``references``:
    thresholds are set on its ``train_seeds`` markets so that ``target_fpr`` of them alarm. The
    combined detector of each group is fitted on all its scenarios' ``train_seeds`` markets;
    every reported figure comes from ``test_seeds``.
    """

    name: str
    scenarios: tuple[Scenario, ...]
    markets: int = 200
    rounds: int = 200
    window: int = 100
    deviation_round: int = 150
    train_seeds: tuple[int, ...] = (0, 1)
    test_seeds: tuple[int, ...] = (2, 3)
    target_fpr: float = 0.05
    references: tuple[str, ...] = ("competitive",)
    screens: tuple[str, ...] = ()  # empty: every registered screen

    def __post_init__(self) -> None:
        require(bool(self.name), "name", "a non-empty string", self.name)
        require_int(self.markets, "markets", 2, 100_000)
        require_int(self.rounds, "rounds", 16, 100_000)
        require_int(self.window, "window", 8, self.rounds)
        start = self.rounds - self.window
        require_int(self.deviation_round, "deviation_round", start, self.rounds - 2)
        require(len(self.train_seeds) > 0, "train_seeds", "at least one seed", self.train_seeds)
        require(len(self.test_seeds) > 0, "test_seeds", "at least one seed", self.test_seeds)
        for field in ("train_seeds", "test_seeds"):
            for seed in getattr(self, field):
                require_int(seed, field, 0)
        shared = sorted(set(self.train_seeds) & set(self.test_seeds))
        require(not shared, "test_seeds", "seeds disjoint from train_seeds", self.test_seeds)
        require_float(self.target_fpr, "target_fpr", 0.0, 0.5, low_open=True)
        names = [s.name for s in self.scenarios]
        duplicate = sorted({n for n in names if names.count(n) > 1})
        require(not duplicate, "scenarios", "unique names", duplicate)
        for screen in self.screens:
            require(screen in screen_names(), "screens", f"names from {', '.join(screen_names())}",
                    screen)  # fmt: skip
        for group in self.groups:
            mine = [s for s in self.scenarios if s.group == group]
            honest = [s.name for s in mine if not s.collusive]
            chosen = [r for r in self.references if r in honest]
            require(len(chosen) == 1, "references",
                    f"exactly one honest {group} scenario (of {', '.join(honest) or 'none'})",
                    self.references)  # fmt: skip
            require(len(honest) < len(mine), "scenarios",
                    f"at least one collusive {group} scenario", names)  # fmt: skip
            require(len(self.screens_for(group)) > 0, "screens",
                    f"at least one screen for the {group} scenarios", self.screens)  # fmt: skip
        for reference in self.references:
            require(reference in names, "references", "names of scenarios", reference)
        small = [s.name for s in self.scenarios if s.economy == "exchange" and s.firms < 3]
        if small and "relative-distance" in self.screens_for("exchange"):
            raise ConfigError(
                f"screens: relative-distance needs at least 3 sellers per market, scenario "
                f"{small[0]!r} has 2; give more sellers or leave the screen out of screens"
            )
        for scenario in self.scenarios:
            # A covert cartel colludes only once its decoder is fitted.
            covert = scenario.kind == "covert-cartel"
            begins = scenario.onset + (scenario.calibration if covert else 0)
            if scenario.kind in ("cartel", "bid-rotation", "covert-cartel") and begins >= start:
                raise ConfigError(
                    f"scenarios.{scenario.name}.onset: expected collusion to start before the "
                    f"screened window (round {start}), got onset {scenario.onset}"
                    + (f" + calibration {scenario.calibration}" if begins > scenario.onset else "")
                )

    @property
    def groups(self) -> tuple[str, ...]:
        """The scenarios' groups, in order of first appearance."""
        return tuple(dict.fromkeys(s.group for s in self.scenarios))

    def reference(self, group: str) -> str:
        """The honest scenario whose train markets set the thresholds in ``group``."""
        mine = {s.name for s in self.scenarios if s.group == group}
        return next(r for r in self.references if r in mine)

    def screens_for(self, group: str) -> tuple[str, ...]:
        """The screens (among ``screens``, or all) that can read ``group``'s panels: auction
        screens for the exchange, price screens for pricing, the latent ones only where a
        forest played."""
        panel = AuctionPanel if group.startswith("exchange") else PricePanel
        applicable = [
            name for name in screen_names(panel)
            if group.endswith("/forest") or "summaries" not in make_screen(name).needs
        ]  # fmt: skip
        return tuple(s for s in (self.screens or applicable) if s in applicable)


def parse_suite(data: dict[str, Any], where: str) -> CollusionSuite:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table")
    raw = data.get("scenarios")
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{where}.scenarios: expected at least one [[scenarios]] table")
    scenarios = tuple(
        from_dict(Scenario, entry, f"{where}.scenarios[{i}]") for i, entry in enumerate(raw)
    )
    settings = {key: value for key, value in data.items() if key != "scenarios"}
    return from_dict(CollusionSuite, {**settings, "scenarios": list(scenarios)}, where)


def load_suite(path: str | Path) -> CollusionSuite:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the suite file ({exc.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return parse_suite(data, str(path))
