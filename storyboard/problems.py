"""A problem found in a storyboard file, located by line and column."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One problem of a storyboard file, at a 1-based line and column."""

    file: str
    line: int
    col: int
    field: str
    message: str

    def format(self) -> str:
        """`FILE:LINE:COL: field: message`, the form editors and CI annotations understand."""
        return f"{self.file}:{self.line}:{self.col}: {self.field}: {self.message}"

    def __str__(self) -> str:
        return self.format()
