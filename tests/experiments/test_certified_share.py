import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "experiments" / "certified_share.py"
spec = importlib.util.spec_from_file_location("certified_share", SCRIPT)
certified_share = importlib.util.module_from_spec(spec)
spec.loader.exec_module(certified_share)
CHECKPOINT = str(Path(__file__).parents[2] / "checkpoints" / "small")


def test_the_curve_over_k_never_rises_and_the_attack_never_beats_the_certificate(tmp_path, capsys):
    """More compromised agents per tree can only shrink what is certified (the bounds nest), and
    the attack never changes a decision the certificate vouched for: what it leaves unchanged is
    at least the certified share."""
    figure = tmp_path / "certified.png"
    args = [
        "--checkpoint",
        CHECKPOINT,
        "--economies",
        "pricing",
        "--agents",
        "40",
        "--rounds",
        "3",
        "--seeds",
        "0",
        "--k",
        "0",
        "1",
        "3",
        "--attack-steps",
        "5",
        "--figure",
        str(figure),
    ]
    assert certified_share.main(args) == 0
    rows = [
        line.split(" | ") for line in capsys.readouterr().out.splitlines() if "| pricing" in line
    ]
    assert len(rows) == 2 * 3  # two poolings, three k
    for pooling in ("median", "trimmed mean 20%"):
        shares = [float(r[3]) for r in rows if r[1] == pooling]
        assert shares == sorted(shares, reverse=True), (pooling, shares)
        # NaN where k fills a tree: no honest agent is left to attack (pricing trees are small)
        unchanged = [float(r[4]) for r in rows if r[1] == pooling]
        assert all(not u < c for u, c in zip(unchanged, shares, strict=True)), (shares, unchanged)
    assert figure.stat().st_size > 0


def test_a_missing_checkpoint_is_one_clear_line(tmp_path, capsys):
    assert certified_share.main(["--checkpoint", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.startswith("error:")
