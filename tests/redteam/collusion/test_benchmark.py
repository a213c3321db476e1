"""The collusion benchmark end to end: suite parsing, detection figures on unseen seeds, the
time to detection, determinism, and the ``redteam collusion`` command."""

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from forest.errors import ConfigError
from redteam.cli import main
from redteam.collusion.benchmark import (
    COMBINED,
    add_combined,
    detection_table,
    score_markets,
    time_to_detection,
)
from redteam.collusion.suite import load_suite, parse_suite

SUITE = """
name = "tiny"
markets = 24
rounds = 40
window = 20
deviation_round = 30
train_seeds = [0]
test_seeds = [1, 2]
references = ["competitive", "exchange"]

[[scenarios]]
name = "competitive"
collusive = false

[[scenarios]]
name = "cost-shocks"
collusive = false
shock_rho = 0.9
shock_sigma = 0.05

[[scenarios]]
name = "grim"
collusive = true
kind = "cartel"
onset = 10
level = 0.5

[[scenarios]]
name = "messages"
collusive = true
kind = "cartel"
strategy = "message-leader"
onset = 5

[[scenarios]]
name = "exchange"
collusive = false
economy = "exchange"
firms = 4

[[scenarios]]
name = "rotation"
collusive = true
economy = "exchange"
kind = "bid-rotation"
firms = 4
"""


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    path = tmp_path_factory.mktemp("suite") / "tiny.toml"
    path.write_text(SUITE)
    return load_suite(path)


@pytest.fixture(scope="module")
def scored(suite):
    result = score_markets(suite, None)
    add_combined(result, suite)
    return result


def test_every_market_of_every_scenario_and_seed_is_scored_by_its_groups_screens(suite, scored):
    table = scored.table
    assert len(table) == 6 * 3 * 24
    assert set(table["split"]) == {"train", "test"}
    assert set(table.loc[table["split"] == "train", "seed"]) == {0}
    for group in ("pricing", "exchange"):
        mine = table["group"] == group
        for name in (*suite.screens_for(group), COMBINED):
            assert np.isfinite(table.loc[mine, name]).all()
    assert table.loc[table["group"] == "exchange", "variance"].isna().all()
    assert table.loc[table["group"] == "pricing", "rotation"].isna().all()


def test_detection_figures_come_from_the_test_seeds_only(suite, scored):
    detection = detection_table(scored, suite, "pricing").set_index("detector")
    table = scored.table
    test = table[(table["split"] == "test") & (table["group"] == "pricing")]
    for detector in (*suite.screens_for("pricing"), COMBINED):
        expected = roc_auc_score(test["collusive"], test[detector])
        assert detection.loc[detector, "auroc"] == pytest.approx(expected)
        tpr = detection.loc[detector, "tpr_at_0.05_fpr"]
        assert 0.0 <= tpr <= 1.0
    # The reference scenario's thresholds hold their false-alarm rate on its unseen seeds
    # (up to the sampling error of 48 markets), and the blatant cartels are caught.
    assert detection.loc["normalised-price", "alarm/competitive"] <= 0.15
    assert detection.loc[COMBINED, "alarm/grim"] == pytest.approx(1.0)
    assert detection.loc["covert-channel", "alarm/messages"] == pytest.approx(1.0)
    assert detection.loc["covert-channel", "alarm/grim"] == pytest.approx(0.0)


def test_bid_rotation_is_caught_by_the_rotation_screen(suite, scored):
    detection = detection_table(scored, suite, "exchange").set_index("detector")
    assert set(detection.index) == {"ask-dispersion", "relative-distance", "rotation", COMBINED}
    assert detection.loc["rotation", "auroc"] > 0.95
    assert detection.loc["rotation", "alarm/rotation"] == pytest.approx(1.0)
    assert "alarm/grim" not in detection.columns


def test_combined_detector_is_fitted_on_train_markets_only(suite):
    first = score_markets(suite, None)
    add_combined(first, suite)
    scrambled = score_markets(suite, None)
    test = scrambled.table["split"] == "test"
    scrambled.table.loc[test, "collusive"] = ~scrambled.table.loc[test, "collusive"]
    add_combined(scrambled, suite)
    # Flipping the test labels cannot change the fitted model: it never saw them.
    assert np.allclose(first.table[COMBINED], scrambled.table[COMBINED])


def test_time_to_detection_counts_rounds_from_onset_to_the_first_cusum_alarm(suite, scored):
    delays = time_to_detection(scored, suite).set_index("scenario")
    assert set(delays.index) == {"grim", "messages"}
    assert delays.loc["grim", "onset"] == 10
    assert 0 <= delays.loc["grim", "median_rounds_to_alarm"] < 10
    assert delays.loc["grim", "caught"] + delays.loc["grim", "early_alarm"] <= 1.0


def test_the_same_suite_and_seeds_give_the_same_figures(suite, scored):
    again = score_markets(suite, None)
    add_combined(again, suite)
    for group in suite.groups:
        assert detection_table(again, suite, group).equals(detection_table(scored, suite, group))


def test_command_writes_the_report_and_logs_one_mlflow_run(suite, tmp_path, capsys):
    path = tmp_path / "tiny.toml"
    path.write_text(SUITE)
    out = tmp_path / "report"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["collusion", str(path), "--out", str(out), "--tracking-uri", uri]) == 0
    printed = capsys.readouterr().out
    assert printed.count("| **combined** |") == 2
    report = json.loads((out / "report.json").read_text())
    assert {row["detector"] for row in report["detection"]} >= {"combined", "variance"}
    assert (out / "roc.png").stat().st_size > 10_000
    import mlflow

    runs = mlflow.search_runs(experiment_names=["collusion/tiny"], output_format="list")
    assert len(runs) == 1
    combined = [r for r in report["detection"] if r["detector"] == "combined"]
    assert {r["group"] for r in combined} == {"pricing", "exchange"}
    for row in combined:
        metric = runs[0].data.metrics[f"auroc/{row['group']}/combined"]
        assert metric == pytest.approx(row["auroc"])


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"markets": 0}, "markets: expected an integer"),
        ({"test_seeds": [0]}, "test_seeds: expected seeds disjoint from train_seeds"),
        ({"references": ["grim", "exchange"]}, "references: expected exactly one honest pricing"),
        ({"references": ["competitive"]}, "references: expected exactly one honest exchange"),
        ({"references": ["competitive", "exchange", "nobody"]}, "references: expected names"),
        ({"screens": ["tea-leaves"]}, "screens: expected names from"),
        ({"window": 100}, "window: expected an integer"),
        ({"deviation_round": 5}, "deviation_round"),
        ({"colour": "red"}, "unknown key 'colour'"),
        ({"scenarios": []}, "expected at least one \\[\\[scenarios\\]\\]"),
        ({"screens": ["rotation"]}, "screens: expected at least one screen for the pricing"),
    ],
)
def test_malformed_collusion_suites_are_refused_naming_the_field(edit, message):
    import tomllib

    data = {**tomllib.loads(SUITE), **edit}
    with pytest.raises(ConfigError, match=message):
        parse_suite(data, "tiny.toml")


def test_command_refuses_a_bad_suite_with_one_line_and_exit_code_2(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(SUITE.replace("onset = 10", "onset = 30"))
    out = tmp_path / "report"
    assert main(["collusion", str(path), "--out", str(out), "--no-mlflow"]) == 2
    err = capsys.readouterr().err
    assert "scenarios.grim.onset: expected collusion to start before the screened window" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
