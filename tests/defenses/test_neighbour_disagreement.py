import numpy as np
import pytest
from scipy.sparse import csgraph

from defenses import RoundSignals, make_defense
from forest.economy import economy_names, make_economy
from forest.errors import InvalidInputError

TREES, SIZE, D = 20, 10, 8
N = TREES * SIZE


def _episode(rng, n_rounds, centres, shown=None):
    """Trees of ``SIZE`` agents (a supplier, then firms) around their own centre, far apart, so
    that a summary typical of one tree is ordinary among all summaries of its role; ``shown``
    maps agents to the tree whose centre they show instead of their own."""
    tree = np.repeat(np.arange(TREES), SIZE)
    roles = np.where(np.arange(N) % SIZE == 0, 0, 3)
    out = []
    for r in range(n_rounds):
        x = centres[tree] + 0.3 * rng.standard_normal((N, D))
        for agent, other in (shown or {}).items():
            x[agent] = centres[other] + 0.3 * rng.standard_normal(D)
        out.append(RoundSignals(r, x.astype(np.float32), roles, np.zeros(N), None, tree))
    return out


def test_an_agent_that_shows_another_trees_summary_is_flagged_and_its_tree_mates_are_not():
    rng = np.random.default_rng(0)
    centres = 5.0 * rng.standard_normal((TREES, D))
    detector = make_defense("neighbour-disagreement", {"target_fpr": 0.01})
    detector.fit(_episode(rng, 10, centres))
    detector.calibrate(_episode(rng, 10, centres))
    # Two agents of tree 0 (its supplier and a firm) show tree 1's summaries: ordinary for
    # their roles, yet far from their own neighbours.
    flagged = detector.flag(detector.score(_episode(rng, 1, centres, {0: 1, 1: 1})[0]))
    assert flagged[[0, 1]].all()
    # The median holds: the compromised pair does not drag its honest tree-mates out with it.
    assert not flagged[2:SIZE].any()


def test_roles_are_standardised_apart():
    """A supplier sits further from its tree's median than its firms do; each role's clean
    scores centre on 0 all the same."""
    rng = np.random.default_rng(1)
    centres = 5.0 * rng.standard_normal((TREES, D))
    fit = _episode(rng, 10, centres)
    for signals in fit:
        signals.summaries[signals.roles == 0] += 2.0
    detector = make_defense("neighbour-disagreement")
    detector.fit(fit)
    scores = np.concatenate([detector.score(r) for r in fit])
    roles = np.concatenate([r.roles for r in fit])
    for role in (0, 3):
        assert abs(scores[roles == role].mean()) < 1e-9


def test_scoring_without_trees_is_an_error_that_says_so():
    rng = np.random.default_rng(2)
    centres = 5.0 * rng.standard_normal((TREES, D))
    detector = make_defense("neighbour-disagreement")
    detector.fit(_episode(rng, 3, centres))
    signals = _episode(rng, 1, centres)[0]
    with pytest.raises(InvalidInputError, match="no trees"):
        detector.score(RoundSignals(0, signals.summaries, signals.roles, signals.actions))
    with pytest.raises(InvalidInputError, match="one tree per agent"):
        detector.score(RoundSignals(0, signals.summaries, signals.roles, signals.actions,
                                    None, signals.tree[:-1]))  # fmt: skip


@pytest.mark.parametrize("economy", economy_names())
def test_trees_are_the_connected_components_of_every_economys_interaction_graph(economy):
    """What the detector's neighbourhoods stand for: agents interact only within their tree,
    and a tree is connected."""
    world = make_economy(economy, 0)
    graph = world.interaction_graph()
    _, trees = np.unique(world.tree_ids(), return_inverse=True)
    _, components = csgraph.connected_components(graph.adjacency(), directed=False)
    assert np.array_equal(trees[graph.src], trees[graph.dst])
    pairs = np.unique(np.stack([trees, components]), axis=1)
    assert len(np.unique(pairs[0])) == len(np.unique(pairs[1])) == pairs.shape[1]
