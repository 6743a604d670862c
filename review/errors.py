"""Errors of the review package: one base, one class per failure, each with its exit code (see core.errors)."""

from __future__ import annotations

from pathlib import Path

from core.errors import BadInput, DocfilmError, EnvironmentProblem


class ReviewError(DocfilmError):
    """Base class of every error raised by review."""


class TemplatesNotFound(ReviewError, EnvironmentProblem):
    """The packet templates folder could not be found."""

    def __init__(self, searched: list[Path]) -> None:
        self.searched = searched
        places = ", ".join(str(p) for p in searched)
        super().__init__(
            f"packet templates: expected templates/packet.html.j2 in one of: {places}; reinstall docfilm "
            "or run it from its checkout"
        )


class UnsafeFilmId(ReviewError, BadInput):
    """A film id cannot be used as a packet folder name."""

    def __init__(self, film_id: str) -> None:
        self.film_id = film_id
        super().__init__(
            f"film id {film_id!r}: expected a plain folder name (letters, digits, '.', '_', '-'; "
            "not starting with '.'); change film.id in the storyboard"
        )


class PacketWriteFailed(ReviewError, EnvironmentProblem):
    """Writing the packet folder or its zip failed (disk full, no permission); the previous packet is left in place."""

    def __init__(self, target: Path, reason: str) -> None:
        self.target = target
        self.reason = reason
        super().__init__(
            f"packet {target}: could not be written ({reason}); previous packet kept. Free space or fix "
            f"permissions in {target.parent}, or set DOCFILM_PACKETS_DIR to another folder"
        )


class NotesRefused(ReviewError, BadInput):
    """A reviewer's notes file was not taken into the ledger; nothing of it was written."""

    def __init__(self, file: str, field: str, message: str) -> None:
        self.file = file
        self.field = field
        self.message = message
        super().__init__(f"notes file {file}: {field}: {message}; nothing imported")


class NotesUnreadable(NotesRefused):
    """The notes file cannot be read, or is too large to be one."""


class NotesNotJson(NotesRefused):
    """The notes file is not UTF-8 JSON."""


class NotesWrongSchema(NotesRefused):
    """The file is not a docfilm notes file of a version this docfilm reads."""


class NotesTampered(NotesRefused):
    """The file's content does not match its SHA-256 digest: damaged or changed after export.

    The digest shows the file is whole as exported; it proves nothing about who wrote or exported it.
    """


class NotesInvalid(NotesRefused):
    """A field has the wrong type or shape, or disagrees with another."""


class NotesForAnotherFilm(NotesRefused):
    """The notes were written in a packet of another film."""


class NotesUnknownTarget(NotesRefused):
    """A note names a scene or clip the film or ledger does not have."""


class NotesConflict(NotesRefused):
    """A note id was imported before with different content."""


class PacketNotFound(ReviewError, BadInput):
    """A folder given to verify holds no readable packet manifest."""

    def __init__(self, folder: Path, reason: str) -> None:
        self.folder = folder
        super().__init__(f"{folder}: not a docfilm packet ({reason}); expected manifest.json beside index.html")
