"""Pausing Python's cyclic garbage collector around work that allocates many objects without cycles: large
imports (Prefect and its server) and the figures' check. Reference counting still frees what is dropped."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused"]


@contextmanager
def collector_paused() -> Iterator[None]:
    """Cyclic GC off for the block, then back as it was."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
