"""How far poison spreads: infection of honest agents, measured against the clean twin.

The rule: an honest agent is *infected* in a round when its action in the attacked episode
departs from its action in the clean twin (same seed, same model, no attack) by more than
``threshold`` action classes (``|a - a_twin| / unit > threshold``; the default 0.5 counts any
change of class). The twin differs only by the attack, so every departure is the attack's doing,
direct or through the economy and the forest's aggregation.

From the per-round infection matrix follow: the infection curve (share of honest agents infected
in each round), the cumulative curve (infected at least once so far), the blast radius (the
cumulative share a given number of rounds after the attack starts), the rounds it takes to
reach 10/50/90% of honest agents, infection by hop distance from the nearest attacker, and R0.

R0 here is the ratio of new infections from one round to the next over the early phase, with
the attackers as the index cases one round before the attack starts and one round counted as
one generation: sum(new[t]) / sum(new[t - 1]) over the rounds up to the first in which half the
honest agents have been infected (all rounds if never). Growth by a factor R per round gives
exactly R; an outbreak that dies out gives less than 1, and no infection at all gives 0. A blast
radius asked for beyond the end of the episode is undefined (nan), never the last round's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SHARES = (0.1, 0.5, 0.9)


@dataclass(frozen=True)
class Propagation:
    infection_curve: np.ndarray  # (R,) share of honest agents infected in each round
    cumulative_curve: np.ndarray  # (R,) share infected at least once by each round
    blast_radius: dict[int, float]  # rounds after the start -> cumulative share
    rounds_to: dict[float, float]  # share -> rounds after the start to reach it (nan: never)
    infection_by_hop: dict[int, float]  # hop distance -> share of those agents ever infected
    hop_buckets: dict[str, float]  # "1", "2", "3", "4plus": the same share (nan: nobody there)
    mean_hop_infected: float  # mean hop distance of the agents ever infected (nan: none)
    r0: float

    def scalars(self) -> dict[str, float]:
        out = {f"blast_radius_r{r}": v for r, v in self.blast_radius.items()}
        out["blast_radius_final"] = float(self.cumulative_curve[-1])
        out["infected_final"] = float(self.infection_curve[-1])
        out.update({f"rounds_to_{round(100 * s)}pct": v for s, v in self.rounds_to.items()})
        out.update({f"infected_share_hop{k}": v for k, v in self.hop_buckets.items()})
        out["mean_hop_infected"] = self.mean_hop_infected
        out["r0"] = self.r0
        return out


def infection_matrix(
    actions: np.ndarray,
    twin_actions: np.ndarray,
    action_unit: np.ndarray,
    honest: np.ndarray,
    threshold: float,
) -> np.ndarray:
    """(R, n) bool: honest agent i infected in round r; attackers are never counted."""
    departure = np.abs(actions.astype(np.float64) - twin_actions) / action_unit
    return (departure > threshold) & honest[None, :]


def _r0(cumulative_count: np.ndarray, n_attackers: int, n_honest: int) -> float:
    if n_attackers == 0:
        return float("nan")  # no index case, no reproduction number
    new = np.diff(np.concatenate([[0], cumulative_count]))
    half = np.flatnonzero(cumulative_count >= 0.5 * n_honest)
    end = int(half[0]) + 1 if half.size else new.size
    previous = np.concatenate([[n_attackers], new[: end - 1]])
    return float(new[:end].sum() / previous.sum())


def measure(
    infected: np.ndarray,
    start_round: int,
    honest: np.ndarray,
    hops: np.ndarray,
    blast_radius_rounds: tuple[int, ...],
) -> Propagation:
    """Propagation figures from the infection matrix; ``hops`` (n,) from the nearest attacker."""
    rounds, _ = infected.shape
    n_honest = int(honest.sum())
    after = infected[start_round:]
    ever = np.logical_or.accumulate(after, axis=0) if after.size else after
    cumulative_count = ever.sum(axis=1)
    cumulative = np.zeros(rounds)
    cumulative[start_round:] = cumulative_count / n_honest
    curve = infected.sum(axis=1) / n_honest

    def share_at(r: int) -> float:
        at = start_round + r - 1
        return float(cumulative[at]) if at < rounds else float("nan")

    rounds_to = {}
    for share in SHARES:
        hit = np.flatnonzero(cumulative_count >= share * n_honest)
        rounds_to[share] = float(hit[0] + 1) if hit.size else float("nan")
    ever_infected = ever[-1] if ever.size else np.zeros_like(honest)
    by_hop = {}
    for hop in np.unique(hops[honest]):
        at_hop = honest & (hops == hop)
        by_hop[int(hop)] = float(ever_infected[at_hop].mean())
    buckets = {}
    for name, at in (("1", hops == 1), ("2", hops == 2), ("3", hops == 3), ("4plus", hops >= 4)):
        group = honest & at
        buckets[name] = float(ever_infected[group].mean()) if group.any() else float("nan")
    reachable = ever_infected & (hops >= 0)
    mean_hop = float(hops[reachable].mean()) if reachable.any() else float("nan")
    return Propagation(
        infection_curve=curve,
        cumulative_curve=cumulative,
        blast_radius={r: share_at(r) for r in blast_radius_rounds},
        rounds_to=rounds_to,
        infection_by_hop=by_hop,
        hop_buckets=buckets,
        mean_hop_infected=mean_hop,
        r0=_r0(cumulative_count, int((~honest).sum()), n_honest),
    )
