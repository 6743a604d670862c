"""`docfilm serve`: keep the embedded S3 of a home running until Ctrl-C or SIGTERM."""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any, Protocol

from core.signals import on_stop_signals
from delivery.errors import EmbeddedS3Failed
from delivery.seaweed.server import EmbeddedS3
from delivery.settings import S3Settings

__all__ = ["Companion", "SupportsPrint", "serve_forever"]

log = logging.getLogger(__name__)


class SupportsPrint(Protocol):
    """Anything with a print method, e.g. a rich Console."""

    def print(self, *objects: Any) -> None: ...


class Companion(Protocol):
    """Something kept running beside the S3 for the same life (docfilm's Prefect server, flows.prefect_server)."""

    def ready(self) -> str:
        """Wait until it answers; a few words for the ready line."""
        ...

    def stop(self) -> None:
        """Stop it (safe to call twice, or before `ready`)."""
        ...


def serve_forever(settings: S3Settings, *, console: SupportsPrint | None = None,
                  companion: Companion | None = None) -> None:
    """Run the embedded S3 of `settings.home` until Ctrl-C or SIGTERM (taken even when inherited ignored, as
    by `docfilm serve &` in a script: see core.signals), and `companion` with it: the ready line waits for
    it, and it is stopped first, while the signals are still held.

    When a live server already serves that home, say so and return: there is nothing to start.
    """
    say = console.print if console is not None else (lambda *objects: log.info(" ".join(map(str, objects))))
    stop_requested = False

    def on_stop(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    # The signals are taken once the server is up and given back only after it stopped: a second Ctrl-C
    # cannot cut its stop short and leave weed running.
    with contextlib.ExitStack() as signals, EmbeddedS3.attach_or_start(
        settings.home, weed_binary=settings.weed_binary
    ) as server:
        if not server.owned:
            say(f"embedded S3 already running: {server.endpoint_url} (pid {server.pid}, data {server.data_dir})")
            return
        signals.enter_context(on_stop_signals(on_stop))
        try:
            also = f"; {companion.ready()}" if companion is not None else ""
            # The ready line once the signals are ours: a Ctrl-C the moment it is read stops the server cleanly.
            say(
                f"embedded S3 at {server.endpoint_url} (pid {server.pid}); data {server.data_dir}; "
                f"credentials in {server.credentials_path}; log {server.log_path}{also}. Ctrl-C stops it."
            )
            while not stop_requested:
                if not server.is_running():
                    raise EmbeddedS3Failed(
                        f"embedded S3 pid {server.pid} exited on its own; log {server.log_path} ends:\n"
                        f"{server.log_tail()}"
                    )
                time.sleep(0.5)
        finally:
            if companion is not None:
                companion.stop()
        say("stopping the embedded S3…")
    say(f"embedded S3 stopped in {server.stopped_in or 0:.1f} s")
