"""Copies of the bundled film for tests that change it: the facts files it includes travel with it."""

from __future__ import annotations

import shutil
from pathlib import Path

from storyboard.loader import bundled_film_path


def bundled_film_copy(folder: Path) -> Path:
    """The bundled film written to `folder`/film.yaml, with its facts/ beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    film = folder / "film.yaml"
    shutil.copy(bundled_film_path(), film)
    shutil.copytree(bundled_film_path().parent / "facts", folder / "facts")
    return film


def edit_figure(film: Path, sentence: str, old: str, new: str) -> tuple[int, int]:
    """Replace the figure `old` by `new` on the line holding `sentence`; its 1-based (line, column)."""
    lines = film.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if sentence in line)
    col = lines[at].index(old)
    lines[at] = lines[at].replace(old, new)
    film.write_text("".join(lines), encoding="utf-8")
    return at + 1, col + 1
