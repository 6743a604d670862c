"""Errors of the review package."""

from __future__ import annotations

from pathlib import Path


class ReviewError(Exception):
    """Base class of every error raised by review."""


class TemplatesNotFound(ReviewError):
    """The packet templates folder could not be found."""

    def __init__(self, searched: list[Path]) -> None:
        self.searched = searched
        places = ", ".join(str(p) for p in searched)
        super().__init__(f"packet templates: expected templates/packet.html.j2 in one of: {places}")


class UnsafeFilmId(ReviewError):
    """A film id cannot be used as a packet folder name."""

    def __init__(self, film_id: str) -> None:
        self.film_id = film_id
        super().__init__(
            f"film id {film_id!r}: expected a plain folder name (letters, digits, '.', '_', '-'; "
            "not starting with '.')"
        )


class PacketWriteFailed(ReviewError):
    """Writing the packet folder or its zip failed; the previous packet, if any, is left in place."""

    def __init__(self, target: Path, reason: str) -> None:
        self.target = target
        self.reason = reason
        super().__init__(f"packet {target.name}: could not be written ({reason}); previous packet kept")
