"""What the sub-commands share: progress bars, mean ± sd formatting, the output folder."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from forest.training import resume


def progress_bar(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def mean_sd(pair: tuple[float, float]) -> str:
    return f"{pair[0]:.4f} ± {pair[1]:.4f}"


def prepare_output(out: Path, force: bool, console: Console) -> bool:
    """Make ``out`` ready for a training run; False (after saying so) when it holds a finished
    forest and ``force`` is off. With ``force``, the finished run's log goes so it trains anew."""
    if resume.is_finished(out):
        if not force:
            console.print(f"{out} already holds a finished forest; --force trains it again.")
            return False
        (out / resume.TRAIN_LOG).unlink()
    out.mkdir(parents=True, exist_ok=True)
    return True
