"""Errors of the storyboard package."""

from __future__ import annotations

from collections.abc import Sequence

from core.errors import BadInput, DocfilmError
from storyboard.problems import Problem


class StoryboardError(DocfilmError):
    """Base error of storyboard."""


class StoryboardInvalid(StoryboardError, BadInput):
    """A storyboard file failed its checks; `.problems` lists every problem found, in file order."""

    def __init__(self, path: str, problems: Sequence[Problem]) -> None:
        self.path = path
        self.problems: list[Problem] = list(problems)
        lines = "\n".join(problem.format() for problem in self.problems)
        super().__init__(f"storyboard {path} has {len(self.problems)} problem(s):\n{lines}")


class StoryboardUnreadable(StoryboardInvalid):
    """The storyboard file is missing, unreadable or not UTF-8 text."""


class UnknownReference(StoryboardError, BadInput, KeyError):
    """An id asked of a Film (theme, fact) is not in it."""

    def __str__(self) -> str:
        # KeyError would print the repr of the message, quotes and all.
        return str(self.args[0]) if self.args else ""
