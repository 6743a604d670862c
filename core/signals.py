"""Stopping a long-running command (`docfilm serve`, `docfilm farm local`) on Ctrl-C or SIGTERM.

A process started in the background by a script (`docfilm serve &` without job control) inherits SIGINT
ignored, and Python then never raises KeyboardInterrupt: `kill -INT` would do nothing and the command would run
on. So these commands take both signals themselves, whatever they inherited, as uvicorn does for its server.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["STOP_SIGNALS", "ignore_stop_signals", "on_stop_signals"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

Handler = Callable[[int, FrameType | None], object]


@contextmanager
def on_stop_signals(handler: Handler) -> Iterator[None]:
    """Call `handler` on SIGINT or SIGTERM while inside, even if they were ignored or blocked when the process
    started; the previous dispositions come back on the way out."""
    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        for signum, disposition in previous.items():
            signal.signal(signum, disposition)


def _disregard(_signum: int, _frame: FrameType | None) -> None:
    """A handler that does nothing (not SIG_IGN: an ignored signal stays ignored in every child started after)."""


def ignore_stop_signals() -> None:
    """Disregard SIGINT and SIGTERM from now on (inside `on_stop_signals`, until it ends): a second Ctrl-C must
    not cut a stop short and leave processes behind. The children started meanwhile still take both signals."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, _disregard)
