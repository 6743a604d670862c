"""Errors of the figures package."""

from __future__ import annotations

from core.errors import BadInput, DocfilmError


class FiguresError(DocfilmError):
    """Base error of figures."""


class TableUnreadable(FiguresError, BadInput):
    """A statistics file cannot be opened or read (missing, not a spreadsheet, unknown sheet)."""


class TableShapeUnknown(FiguresError, BadInput):
    """A sheet holds no table of the statistics office's shape (indicator, unit, year columns)."""


class FactsFileInvalid(FiguresError, BadInput):
    """An existing facts file or film cannot be updated (unreadable YAML, not a facts file)."""
