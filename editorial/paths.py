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


def cut_file(folder: Path, film_id: str) -> Path:
    """The rendered review cut."""
    return folder / f"{film_id}-review.mp4"


def cut_poster(folder: Path, film_id: str) -> Path:
    return folder / f"{film_id}-review.jpg"


def segments_dir(folder: Path) -> Path:
    """Where each scene's segment is kept, named by its content key, so unchanged scenes are not re-rendered."""
    return folder / "segments"


def segment_file(folder: Path, key: str) -> Path:
    return segments_dir(folder) / f"{key}.mp4"


def state_file(folder: Path) -> Path:
    """What the joined cut and its QC were made from: a cut is current only beside its state."""
    return folder / "state.json"
