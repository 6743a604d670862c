"""Where the review cut's files live under DOCFILM_HOME (no media imports: `facts check` reads its subtitles)."""

from __future__ import annotations

from pathlib import Path

SUBTITLE_LANGS = ("vi", "en")


def review_dir(home: Path, film_id: str) -> Path:
    return home / "cuts" / film_id / "review"


def chapters_file(folder: Path) -> Path:
    return folder / "chapters.vtt"


def subtitles_file(folder: Path, lang: str) -> Path:
    return folder / f"subtitles.{lang}.vtt"
