"""What every Prefect flow module shares, without importing Prefect: the flow's workspace and Markdown escaping
for its artifacts."""

from __future__ import annotations

from pathlib import Path

from flows.settings import DocfilmSettings
from flows.workspace import Workspace, film_path

__all__ = ["md_escape", "workspace"]


def workspace(film: str | None) -> Workspace:
    """The flow's workspace, its settings read from the environment at the flow's entry (once per flow run):
    settings never travel as flow parameters, which Prefect stores (a database URL may hold a password)."""
    return Workspace(film_path(Path(film) if film else None), DocfilmSettings.load())


def md_escape(text: object) -> str:
    """Text for a cell or line of a Markdown artifact: no column breaks, one line."""
    return str(text).replace("|", "\\|").replace("\n", " ")
