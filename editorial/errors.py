"""Failures of editorial: one base error, one class per failure mode, each naming the file and event at fault."""

from __future__ import annotations

from core.errors import BadInput, DocfilmError


class EditorialError(DocfilmError):
    """Root of editorial's errors."""


class UnreadableTimeline(EditorialError, BadInput):
    """No adapter can read the file (unknown suffix, or the adapter's own error, with its line when known)."""


class OverlappingEvents(EditorialError, BadInput):
    """An EDL whose events overlap in record time on one track."""


class NoVideoTrack(EditorialError, BadInput):
    """A timeline without a video track: there is no picture to conform."""


class CutForAnotherFilm(EditorialError, BadInput):
    """A docfilm timeline whose metadata names another film than the one the command works on."""


class InvalidRate(EditorialError, BadInput):
    """A --rate that is not a frame rate timecode exists at."""


class NoCut(EditorialError, BadInput):
    """The film has no cut yet (`docfilm cut assemble` or `docfilm cut import` makes one)."""


class UnknownFormat(EditorialError, BadInput):
    """An export format docfilm does not write."""
