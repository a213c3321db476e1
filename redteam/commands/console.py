"""Consoles of the ``redteam`` commands."""

from rich.console import Console


def wide_console() -> Console:
    """Stdout; 200 columns when it is not a terminal (rich would wrap tables at 80)."""
    console = Console()
    return console if console.is_terminal else Console(width=200)
