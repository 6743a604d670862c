"""The root of docfilm's error tree and the exit codes the CLI gives for it.

Every package has one base error deriving from `DocfilmError` and one subclass per failure mode. The exit code
belongs to the error class (`exit_code`), so the CLI maps any `DocfilmError` generically and a new failure mode
cannot escape as a traceback. A message names the file, field or setting at fault and what would fix it.
"""

from __future__ import annotations

from typing import ClassVar

EXIT_OK = 0
EXIT_PARTIAL = 1  # finished, but some items failed or were quarantined (each listed with its reason)
EXIT_INPUT = 2  # bad input or usage; nothing written
EXIT_ENV = 3  # environment problem: ffmpeg, fonts, S3, database or Prefect unreachable or unusable
EXIT_INTERRUPTED = 130  # Ctrl-C (SIGINT), as shells report it; what was finished is kept


class DocfilmError(Exception):
    """Root of every error docfilm raises on purpose. `exit_code` is what the CLI exits with when it ends a command."""

    exit_code: ClassVar[int] = EXIT_PARTIAL


class BadInput(DocfilmError):
    """Mixin root of failures caused by what the user gave (a file, a field, an option): exit 2."""

    exit_code: ClassVar[int] = EXIT_INPUT


class EnvironmentProblem(DocfilmError):
    """Mixin root of failures of the machine or a service (ffmpeg, fonts, S3, database, Prefect): exit 3."""

    exit_code: ClassVar[int] = EXIT_ENV


def exit_code_of(exc: BaseException) -> int | None:
    """The exit code of the first DocfilmError in `exc`'s cause/context chain, or None when there is none."""
    seen: BaseException | None = exc
    visited: set[int] = set()
    while seen is not None and id(seen) not in visited:
        visited.add(id(seen))
        if isinstance(seen, DocfilmError):
            return seen.exit_code
        seen = seen.__cause__ or seen.__context__
    return None


def known_error(exc: BaseException) -> DocfilmError | None:
    """The first DocfilmError in `exc`'s cause/context chain (e.g. wrapped by Prefect), or None."""
    seen: BaseException | None = exc
    visited: set[int] = set()
    while seen is not None and id(seen) not in visited:
        visited.add(id(seen))
        if isinstance(seen, DocfilmError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def endpoint_of(url: str) -> str:
    """`host:port` of a URL for messages, never its user, password, path or query."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<unparseable URL>"
    if not host:
        return "<no host>"
    if port is None:
        port = {"http": 80, "https": 443}.get(parts.scheme.split("+")[0])
        if port is None and parts.scheme.startswith("postgresql"):
            port = 5432
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port}" if port is not None else shown
