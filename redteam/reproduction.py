"""A reproduction number that is one: secondary infections per case, attributed on the graph.

The old figure (``redteam.propagation``) divides new infections in a round by those of the round
before. That is a growth ratio, not a reproduction number: a single attacker that infects five fresh
leaves a round, which infect nobody, reads 1.25 over eight rounds although no honest agent passes
the poison on (tests/redteam/test_reproduction.py). Here every new infection is attributed to
whoever could have caused it, and R0 counts what the early honest cases passed on.

Attribution (Wallinga-Teunis on the contact graph). An honest agent's *infection round* is the first
round, from ``start_round`` on, in which it is infected (it may recover and relapse; only the first
round counts). The attackers are the index cases: infected at ``start_round - 1`` and infectious for
ever. An honest agent is infectious from its infection round on, for ever (SI) or for
``infectious_rounds`` rounds (SIR). A new infection of agent ``j`` in round ``t`` has as candidate
infectors its neighbours in the interaction graph (edges taken both ways) that were infectious in
round ``t - 1``; its one unit of credit is split equally among them (the posterior of who infected
it when every contact transmits with the same probability; where attackers transmit more readily
than honest agents, honest neighbours that compete with an attacker get too much credit and R0 reads
high). A new infection with no infectious neighbour came through a channel outside the graph (the
forest's shared attention, the economy's state); it is *unattributed*, counted in
``unattributed_share``, and, since only the attack can have caused it, taken as a first-generation
case of the attack.

Generations. The attackers are generation 0. A case's weight in generation 1 is the credit it gives
to attackers (plus 1 if unattributed); its secondary infections are the credit it receives.

R0 (the definition, plainly): the mean number of secondary infections of the *early first-generation
honest cases*, each weighted by its generation-1 weight,

    R0 = sum_j w1_j * secondary_j / sum_j w1_j,

over honest cases ``j`` infected no later than the round in which the cumulative number of infected
honest agents first reaches ``early_share`` (default 5%) of them (all rounds if never), and, under
SIR, whose infectious window ended before the last round (a later case's count would be cut short).
This is the generation ratio R_gen = (cases of generation 2) / (cases of generation 1) before
depletion. The attackers' own count is reported apart (``index_secondary``): they never recover and
are placed by the adversary, so their count measures the attack's reach, not how the poison
reproduces among honest agents. No infection at all gives R0 = 0 (nothing reproduced); no attacker
gives nan (no index case); early first-generation cases that are all cut short give nan.

Under SI the secondary counts run to the end of the episode (an SI case never stops), so R0 is what
early cases passed on within it. ``growth_rate`` is the log-linear slope of new infections per round
(per round; ``exp`` of it is the growth factor) over the rounds up to the one in which half the
honest agents have been infected: a separate figure, not R0.

``simulate_outbreaks`` runs discrete-time SI/SIR epidemics on a graph and records the true infector
of every case, so that the estimator can be checked against a known R on any graph, the economies'
own included (``experiments/validate_estimators.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forest.errors import InvalidInputError

NEVER = -1  # infection round of an agent never infected
EARLY_SHARE = 0.05  # the early phase ends once this share of honest agents has been infected


@dataclass(frozen=True)
class Reproduction:
    r0: float  # mean secondary infections of early first-generation honest cases
    growth_rate: float  # log-linear slope of new infections per round, early phase (nan: < 2 pts)
    n_index: int  # attackers (generation 0)
    n_early: float  # generation-1 weight R0 rests on (0: none)
    index_secondary: float  # mean secondary infections per attacker (the attack's reach)
    unattributed_share: float  # share of honest cases with no infectious neighbour (nan: none)
    secondary_by_case: np.ndarray  # (n,) credited secondary infections of every agent


@dataclass(frozen=True)
class Outbreaks:
    infected: np.ndarray  # (B, R, n) bool: honest agent infected (infectious) in round r
    infection_round: np.ndarray  # (B, n) int: first infection round, NEVER (-1) if none
    infector: np.ndarray  # (B, n) int: the agent that truly infected it, NEVER if none


def _edges(src: np.ndarray, dst: np.ndarray, n_agents: int) -> tuple[np.ndarray, np.ndarray]:
    """Directed pairs (i, j), both ways, no self-loops, no duplicates."""
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    if src.shape != dst.shape or src.ndim != 1:
        raise InvalidInputError(
            f"src, dst: need two 1-D arrays of equal length, got {src.shape} and {dst.shape}"
        )
    if src.size and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= n_agents):
        raise InvalidInputError(f"src, dst: agent ids must lie in [0, {n_agents})")
    u, v = np.concatenate([src, dst]), np.concatenate([dst, src])
    key = np.unique(u[u != v] * n_agents + v[u != v])
    return key // n_agents, key % n_agents


def _attackers(attackers: np.ndarray | list[int], n_agents: int) -> np.ndarray:
    att = np.asarray(attackers, dtype=np.int64).reshape(-1)
    if att.size and (att.min() < 0 or att.max() >= n_agents or np.any(np.diff(att) <= 0)):
        raise InvalidInputError(f"attackers: need sorted unique ids in [0, {n_agents})")
    return att


def _infectious_at(
    t_inf: np.ndarray, is_attacker: np.ndarray, when: np.ndarray | int, window: int | None
) -> np.ndarray:
    """Whether agents with infection rounds ``t_inf`` are infectious in round ``when``."""
    on = (t_inf != NEVER) & (t_inf <= when)
    if window is None:
        return on
    return on & (is_attacker | (when - t_inf < window))


def _new_cases(t_inf: np.ndarray, honest: np.ndarray, start_round: int, rounds: int) -> np.ndarray:
    """(rounds - start_round,) new honest cases per round from the start of the attack."""
    case = honest & (t_inf != NEVER)
    return np.bincount(t_inf[case] - start_round, minlength=rounds - start_round)


def _early(
    t_inf: np.ndarray,
    honest: np.ndarray,
    start_round: int,
    rounds: int,
    window: int | None,
    early_share: float,
) -> np.ndarray:
    """Honest cases infected by the early-phase cutoff whose infectious window is complete."""
    new = _new_cases(t_inf, honest, start_round, rounds)
    reached = np.flatnonzero(np.cumsum(new) >= early_share * honest.sum())
    cutoff = start_round + int(reached[0]) if reached.size else rounds - 1
    early = honest & (t_inf != NEVER) & (t_inf <= cutoff)
    if window is not None:
        early &= t_inf + window <= rounds - 1
    return early


def _growth_rate(t_inf: np.ndarray, honest: np.ndarray, start_round: int, rounds: int) -> float:
    """Slope of log(new cases) on round, over rounds with new cases up to half infected."""
    new = _new_cases(t_inf, honest, start_round, rounds)
    half = np.flatnonzero(np.cumsum(new) >= 0.5 * honest.sum())
    new = new[: int(half[0]) + 1] if half.size else new
    at = np.flatnonzero(new > 0)
    if at.size < 2:
        return float("nan")
    return float(np.polyfit(at.astype(np.float64), np.log(new[at]), 1)[0])


def _check_window(infectious_rounds: int | None) -> None:
    if infectious_rounds is not None and infectious_rounds < 1:
        raise InvalidInputError(f"infectious_rounds: need None or >= 1, got {infectious_rounds}")


def estimate_reproduction(
    infected: np.ndarray,
    attackers: np.ndarray | list[int],
    start_round: int,
    src: np.ndarray,
    dst: np.ndarray,
    n_agents: int,
    infectious_rounds: int | None = None,
    early_share: float = EARLY_SHARE,
) -> Reproduction:
    """R0 and growth rate from the (R, n) infection matrix; see the module docstring.

    Rounds before ``start_round`` and the attackers' own columns of ``infected`` are ignored
    (before the attack the episode equals its twin; attackers are index cases by definition).
    """
    infected = np.asarray(infected)
    if infected.ndim != 2 or infected.shape[1] != n_agents or infected.dtype != np.bool_:
        raise InvalidInputError(
            f"infected: need a (rounds, {n_agents}) bool array, got "
            f"{infected.dtype} {infected.shape}"
        )
    rounds = infected.shape[0]
    if not 1 <= start_round < rounds:
        raise InvalidInputError(
            f"start_round: need 1 <= start_round < {rounds} (attackers are infectious from the "
            f"round before), got {start_round}"
        )
    if not 0 < early_share <= 1:
        raise InvalidInputError(f"early_share: need 0 < early_share <= 1, got {early_share}")
    _check_window(infectious_rounds)
    att = _attackers(attackers, n_agents)
    i, j = _edges(src, dst, n_agents)
    is_attacker = np.zeros(n_agents, dtype=bool)
    is_attacker[att] = True
    honest = ~is_attacker

    after = infected[start_round:]
    t_inf = np.where(after.any(axis=0), after.argmax(axis=0) + start_round, NEVER)
    t_inf = np.where(honest, t_inf, start_round - 1)
    case = honest & (t_inf != NEVER)

    # Candidate infector i of j: j an honest case, i infectious in the round before j's infection.
    cand = case[j] & _infectious_at(t_inf[i], is_attacker[i], t_inf[j] - 1, infectious_rounds)
    i, j = i[cand], j[cand]
    n_cand = np.bincount(j, minlength=n_agents)
    credit = 1.0 / n_cand[j]
    secondary = np.bincount(i, weights=credit, minlength=n_agents)
    unattributed = case & (n_cand == 0)
    w1 = np.bincount(j, weights=credit * is_attacker[i], minlength=n_agents) + unattributed

    n_cases = int(case.sum())
    early = _early(t_inf, honest, start_round, rounds, infectious_rounds, early_share)
    weight = float(w1[early].sum())
    if att.size == 0:
        r0 = float("nan")  # no index case, no reproduction number
    elif n_cases == 0:
        r0 = 0.0  # the index cases infected nobody: nothing reproduced
    else:
        r0 = float((w1 * secondary)[early].sum() / weight) if weight > 0 else float("nan")
    return Reproduction(
        r0=r0,
        growth_rate=_growth_rate(t_inf, honest, start_round, rounds),
        n_index=int(att.size),
        n_early=weight,
        index_secondary=float(secondary[att].mean()) if att.size else float("nan"),
        unattributed_share=float(unattributed.sum() / n_cases) if n_cases else float("nan"),
        secondary_by_case=secondary,
    )


def _attacker_masks(attackers: np.ndarray | list[int], n_outbreaks: int, n: int) -> np.ndarray:
    """(B, n) bool from one attacker set for all outbreaks, (k,), or one set each, (B, k)."""
    att = np.asarray(attackers, dtype=np.int64)
    sets = att.reshape(1, -1) if att.ndim <= 1 else att
    if att.ndim > 2 or (att.ndim == 2 and att.shape[0] != n_outbreaks):
        raise InvalidInputError(f"attackers: need (k,) or ({n_outbreaks}, k) ids, got {att.shape}")
    mask = np.zeros((sets.shape[0], n), dtype=bool)
    for b, row in enumerate(sets):
        mask[b, _attackers(row, n)] = True
    return np.broadcast_to(mask, (n_outbreaks, n))


def simulate_outbreaks(
    src: np.ndarray,
    dst: np.ndarray,
    n_agents: int,
    attackers: np.ndarray | list[int],
    p: float,
    rounds: int,
    start_round: int = 1,
    infectious_rounds: int | None = None,
    n_outbreaks: int = 1,
    rng: np.random.Generator | None = None,
) -> Outbreaks:
    """Discrete-time SI (``infectious_rounds=None``) or SIR epidemics on the graph, batched.

    The estimator's own rules: attackers (``(k,)`` for every outbreak or ``(B, k)``, one set each)
    are infectious from ``start_round - 1`` for ever; in each round ``t >= start_round`` every
    contact (both ways) from an agent infectious in round ``t - 1`` to a never-infected honest
    agent transmits with probability ``p``, independently; an agent reached by several is
    infected once, its true infector drawn among those that transmitted. In a fully susceptible,
    tree-like neighbourhood a honest case's expected number of secondary infections is
    ``excess_degree * (1 - (1 - p) ** infectious_rounds)`` (on an Erdos-Renyi graph the excess
    degree equals the mean degree).
    """
    rng = rng if rng is not None else np.random.default_rng()
    _check_window(infectious_rounds)
    if not 0 <= p <= 1:
        raise InvalidInputError(f"p: need a probability in [0, 1], got {p}")
    if not 1 <= start_round < rounds:
        raise InvalidInputError(f"start_round: need 1 <= start_round < {rounds}, got {start_round}")
    is_attacker = _attacker_masks(attackers, n_outbreaks, n_agents)
    i, j = _edges(src, dst, n_agents)
    t_inf = np.where(is_attacker, start_round - 1, NEVER).astype(np.int64)
    infector = np.full((n_outbreaks, n_agents), NEVER, dtype=np.int64)
    for t in range(start_round, rounds):
        source = _infectious_at(t_inf, is_attacker, t - 1, infectious_rounds)
        susceptible = t_inf == NEVER  # attackers are never susceptible: t = start_round - 1
        b, e = np.nonzero(source[:, i] & susceptible[:, j])
        hit = rng.random(b.size) < p
        b, e = b[hit], e[hit]
        order = np.lexsort((rng.random(b.size), j[e], b))  # random order among transmitters
        b, e = b[order], e[order]
        _, first = np.unique(b * n_agents + j[e], return_index=True)
        b, e = b[first], e[first]
        t_inf[b, j[e]] = t
        infector[b, j[e]] = i[e]
    r = np.arange(rounds)[None, :, None]
    t3 = t_inf[:, None, :]
    infected = (t3 != NEVER) & (t3 <= r) & ~is_attacker[:, None, :]
    if infectious_rounds is not None:
        infected &= r < t3 + infectious_rounds
    return Outbreaks(infected=infected, infection_round=t_inf, infector=infector)


def true_reproduction(
    outbreaks: Outbreaks,
    attackers: np.ndarray | list[int],
    start_round: int,
    infectious_rounds: int | None = None,
    early_share: float = EARLY_SHARE,
) -> tuple[np.ndarray, np.ndarray]:
    """The simulator's ground truth for R0: per outbreak, the true secondary infections summed
    over the early first-generation cases (true infector an attacker; the estimator's early rule)
    and their number, (B,) and (B,). Pooled: ``total.sum() / count.sum()``."""
    b_n, rounds, n = outbreaks.infected.shape
    is_attacker = _attacker_masks(attackers, b_n, n)
    total, count = np.zeros(b_n), np.zeros(b_n)
    for b in range(b_n):
        t_inf, who, honest = outbreaks.infection_round[b], outbreaks.infector[b], ~is_attacker[b]
        early = _early(t_inf, honest, start_round, rounds, infectious_rounds, early_share)
        gen1 = early & (who != NEVER) & is_attacker[b][np.maximum(who, 0)]
        secondary = np.bincount(who[who != NEVER], minlength=n)
        total[b], count[b] = secondary[gen1].sum(), gen1.sum()
    return total, count


def erdos_renyi(
    n: int, mean_degree: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A random contact graph for the synthetic checks: ``n * mean_degree / 2`` uniformly drawn
    pairs (edges ``src``, ``dst``; duplicates merge and self-pairs are ignored downstream)."""
    m = int(n * mean_degree / 2)
    return rng.integers(0, n, m), rng.integers(0, n, m)


def excess_degree(src: np.ndarray, dst: np.ndarray, n: int) -> float:
    """Mean excess degree E[k(k-1)]/E[k] of the simple graph behind the edges: a secondary
    case's expected number of further contacts, which sets R on a random graph."""
    key = np.unique(np.minimum(src, dst) * n + np.maximum(src, dst))
    key = key[key // n != key % n]
    deg = np.bincount(np.concatenate([key // n, key % n]), minlength=n)
    return float((deg * (deg - 1)).sum() / deg.sum())
