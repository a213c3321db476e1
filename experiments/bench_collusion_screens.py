"""How long screening takes: every collusion screen over 500 markets x 200 rounds (issue #8).

    python experiments/bench_collusion_screens.py [--markets 500] [--rounds 200] [--repeats 7]
        [--firms 2] [--json-out PATH]

The pricing markets are honest duopolies played by the pricing economy's experts, with message
quotes, profits, the punishment probe's replay and summary tokens of the small forest's width
(random: a screen's time does not depend on their values), so every price screen has what it
reads; the auction screens read as many exchange markets of five sellers. Prints the median
wall time (after one warm-up) of each screen and of all of them together, against the 2 s
budget the issue sets.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from defenses.collusion import AuctionPanel, PricePanel, make_screen, screen_names
from redteam.collusion.scenarios import Scenario
from redteam.collusion.simulate import simulate

BUDGET_SECONDS = 2.0


def median_seconds(run, repeats: int) -> float:
    run()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markets", type=int, default=500, help="markets (default 500)")
    parser.add_argument("--rounds", type=int, default=200, help="rounds per market (default 200)")
    parser.add_argument("--firms", type=int, default=2, help="firms per market (default 2)")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats (default 7)")
    parser.add_argument("--json-out", type=Path, help="also write the timings as JSON")
    args = parser.parse_args(argv)
    scenario = Scenario("competitive", False, firms=args.firms)
    prices = simulate(scenario, args.markets, args.rounds, 0, args.rounds - 10).panel
    tokens = np.random.default_rng(0).standard_normal((*prices.prices.shape, 128))
    prices = replace(prices, summaries=tokens.astype(np.float32))
    exchange = Scenario("exchange", False, economy="exchange", firms=5)
    asks = simulate(exchange, args.markets, args.rounds, 0, args.rounds - 10).panel
    panels = {PricePanel: prices, AuctionPanel: asks}
    screens = {name: make_screen(name) for name in screen_names()}
    result = {"markets": args.markets, "rounds": args.rounds, "firms": args.firms, "screens": {}}
    for name, screen in screens.items():
        panel = panels[screen.panel_type]
        result["screens"][name] = median_seconds(lambda s=screen, p=panel: s.score(p),
                                                 args.repeats)  # fmt: skip
    result["all_screens"] = median_seconds(
        lambda: [s.score(panels[s.panel_type]) for s in screens.values()], args.repeats
    )
    for name, seconds in result["screens"].items():
        print(f"{name:18s} {seconds * 1000:8.1f} ms")
    verdict = "within" if result["all_screens"] <= BUDGET_SECONDS else "OVER"
    print(
        f"all {len(screens)} screens, {args.markets} markets x {args.rounds} rounds: "
        f"{result['all_screens'] * 1000:.0f} ms median ({verdict} the {BUDGET_SECONDS:g} s budget)"
    )
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
