"""Consoles of the ``redteam`` commands, and how a long one takes a stop."""

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """A SIGTERM (a scheduler's stop, `kill`) ends the run as Ctrl-C does: the run is marked
    killed, its workers stopped, its finished cells kept for the resume. Only the main thread
    may set a handler; the caller's comes back afterwards (commands run inside tests too)."""
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def wide_console() -> Console:
    """Stdout; 200 columns when it is not a terminal (rich would wrap tables at 80)."""
    console = Console()
    return console if console.is_terminal else Console(width=200)
