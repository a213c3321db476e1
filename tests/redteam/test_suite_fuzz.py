"""The suite parser on arbitrary edits of a valid suite: it accepts the suite or refuses it with
the project's own error (a ConfigError naming the field), never with another exception."""

import copy
from pathlib import Path

import pytest
from budget import examples
from hypothesis import example, given, settings
from hypothesis import strategies as st

from forest.errors import ForestError
from redteam.suite import parse_suite

BASE = {
    "suite": {"name": "fuzzed", "checkpoint": "checkpoints/small", "rounds": 6, "seeds": 1},
    "economies": [{"name": "pricing", "agents": 40}],
    "attacks": [{"name": "latent-noise", "params": {"norm": 4.0}, "threat": {"fraction": 0.1}}],
    "defenses": [{"name": "mahalanobis"}],
    "metrics": {"blast_radius_rounds": [2]},
}

values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=6,
)  # fmt: skip
PATHS = [
    ("suite", "name"), ("suite", "rounds"), ("suite", "seeds"), ("suite", "router"),
    ("suite", "colour"), ("economies", 0, "name"), ("economies", 0, "agents"),
    ("economies", 0, "config"), ("attacks", 0, "name"), ("attacks", 0, "params"),
    ("attacks", 0, "params", "norm"), ("attacks", 0, "threat", "fraction"),
    ("attacks", 0, "threat", "count"), ("attacks", 0, "sweep"), ("defenses", 0, "name"),
    ("defenses", 0, "params"), ("metrics", "blast_radius_rounds"), ("economies",),
    ("attacks",), ("metrics",), ("unexpected",),
]  # fmt: skip


def edited(path, value):
    data = copy.deepcopy(BASE)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch):
    monkeypatch.chdir(Path(__file__).parents[2])


@settings(max_examples=examples(60), deadline=None)
@given(path=st.sampled_from(PATHS), value=values)
# Found by `make fuzz`: an empty list of blast-radius rounds was a bare ValueError.
@example(path=("metrics", "blast_radius_rounds"), value=[])
def test_any_edit_of_a_suite_is_accepted_or_refused_with_a_config_error(path, value):
    try:
        suite = parse_suite(edited(path, value), Path("fuzzed.toml"), check_checkpoint=False)
    except ForestError as exc:
        assert str(exc), "an error must say what is wrong"
    else:
        assert suite.cells
