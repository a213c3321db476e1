"""How the local pool hands cells to workers: each once, never idling, shared work kept together."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from redteam.cell import Cell
from redteam.executors import AffinityQueue

BASE = Cell(suite="s", economy="supply_chain", economy_label="supply_chain",
            economy_config={"n_agents": 100}, attack="latent-episode-search",
            attack_label="plan", attack_params={}, threat={"fraction": 0.01, "adaptive": False},
            sweep=None, defense=None, defense_label="no defense", defense_params={}, seed=0,
            rounds=10, checkpoint="c", checkpoint_digest="d", router=True,
            metrics={"calibration_seed_offset": 1000})  # fmt: skip


def _share(share: float, seed: int) -> Cell:
    return replace(BASE, threat={**BASE.threat, "fraction": share}, seed=seed)


def _play(queue: AffinityQueue, order: list[int]) -> dict[int, list[Cell]]:
    """Workers ask in ``order`` (cycled) until the queue is empty."""
    played: dict[int, list[Cell]] = {w: [] for w in set(order)}
    step = 0
    while len(queue):
        worker = order[step % len(order)]
        cell = queue.take(worker)
        assert cell is not None, "a worker was refused a cell while cells remained"
        played[worker].append(cell)
        step += 1
    assert all(queue.take(w) is None for w in played)
    return played


def test_seeds_of_one_plan_go_to_one_worker():
    """A curve's cells come share by share, seed by seed: handed out in that order, the two
    workers would both search each share's plan; by affinity each plan is searched once."""
    cells = [_share(share, seed) for share in (0.01, 0.05, 0.1, 0.25) for seed in range(3)]
    played = _play(AffinityQueue(cells, 2), [0, 1])
    shares = [{c.threat["fraction"] for c in played[w]} for w in (0, 1)]
    assert shares[0].isdisjoint(shares[1])
    assert sum(len(p) for p in played.values()) == len(cells)


def test_defenses_are_split_between_workers():
    """The defense matrix: one seed, many attacks per defense; a defense's clean twin and
    detector fit are played by one worker."""
    cells = [
        replace(BASE, attack=attack, defense=defense, defense_params={})
        for defense in ("mahalanobis", "quarantine", "robust-median")
        for attack in ("latent-noise", "latent-pgd", "inner-product-manipulation", "alie")
    ]
    played = _play(AffinityQueue(cells, 2), [0, 1])
    defenses = [{c.defense for c in played[w]} for w in (0, 1)]
    # Three defenses on two workers: at most one is shared (when the last one is split to
    # keep both busy).
    assert len(defenses[0] & defenses[1]) <= 1


@settings(max_examples=60, deadline=None)
@given(
    shares=st.lists(st.sampled_from([0.01, 0.05, 0.1, 0.5]), min_size=0, max_size=12),
    seeds=st.integers(1, 3),
    order=st.lists(st.integers(0, 2), min_size=1, max_size=7),
)
def test_every_cell_is_handed_out_exactly_once(shares, seeds, order):
    """Invariant: whatever order the workers ask in, the queue hands out each cell once and
    refuses no worker while cells remain."""
    cells = [_share(share, seed) for share in shares for seed in range(seeds)]
    played = _play(AffinityQueue(cells, 3), order)
    handed = [c for p in played.values() for c in p]
    assert sorted(map(repr, handed)) == sorted(map(repr, cells))
