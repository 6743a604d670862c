"""`docfilm serve`: keep the embedded S3 of a home running until Ctrl-C or SIGTERM."""

from __future__ import annotations

import logging
import signal
import time
from typing import Any, Protocol

from delivery.errors import EmbeddedS3Failed
from delivery.seaweed.server import EmbeddedS3
from delivery.settings import S3Settings

__all__ = ["SupportsPrint", "serve_forever"]

log = logging.getLogger(__name__)


class SupportsPrint(Protocol):
    """Anything with a print method, e.g. a rich Console."""

    def print(self, *objects: Any) -> None: ...


def serve_forever(settings: S3Settings, *, console: SupportsPrint | None = None) -> None:
    """Run the embedded S3 of `settings.home` until Ctrl-C or SIGTERM.

    When a live server already serves that home, say so and return: there is nothing to start.
    """
    say = console.print if console is not None else (lambda *objects: log.info(" ".join(map(str, objects))))
    stop_requested = False

    def on_sigterm(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    with EmbeddedS3.attach_or_start(settings.home, weed_binary=settings.weed_binary) as server:
        if not server.owned:
            say(f"embedded S3 already running: {server.endpoint_url} (pid {server.pid}, data {server.data_dir})")
            return
        previous = signal.signal(signal.SIGTERM, on_sigterm)
        try:
            # The ready line inside the try: a Ctrl-C the moment it is read stops the server cleanly (exit 0).
            say(
                f"embedded S3 at {server.endpoint_url} (pid {server.pid}); data {server.data_dir}; "
                f"credentials in {server.credentials_path}; log {server.log_path}. Ctrl-C stops it."
            )
            while not stop_requested:
                if not server.is_running():
                    raise EmbeddedS3Failed(
                        f"embedded S3 pid {server.pid} exited on its own; log {server.log_path} ends:\n"
                        f"{server.log_tail()}"
                    )
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            say("stopping the embedded S3…")
    say(f"embedded S3 stopped in {server.stopped_in or 0:.1f} s")
