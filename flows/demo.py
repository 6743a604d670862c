"""Camera-like sample footage for the bundled film, so `docfilm demo` needs nothing but this project."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from renders.settings import RendersSettings
    from storyboard.models import Film, Scene, Shot

log = logging.getLogger(__name__)

# What each kind of shot is called on a card, in Vietnamese (NFC), so names exercise diacritics too.
KIND_WORDS = {
    "interview": "phỏng-vấn",
    "b-roll": "cảnh-quay",
    "archive": "tư-liệu",
    "graphics": "đồ-họa",
    "aerial": "flycam",
}
# A production's cards mix formats: studio ProRes, a consumer H.264 camera, a broadcast 1080i50 camcorder.
FORMATS = [("prores_mov", ".mov"), ("h264_mp4", ".mp4"), ("mpegts_1080i", ".ts")]
CLIP_SECONDS = 2
BROKEN_NAME = "S01-99_thẻ-nhớ-lỗi.mp4"


@dataclass
class DemoFootage:
    """What the demo made: the clips, and the deliberately broken file that ingest must quarantine."""

    folder: Path
    clips: list[Path] = field(default_factory=list)
    broken: list[Path] = field(default_factory=list)
    made: int = 0


def _plan(film: Film, folder: Path) -> list[tuple[Path, str, str, str]]:
    """(path, format kind, label, start timecode) for the first two shots of every scene."""
    plan = []
    n = 0
    for scene in sorted(film.scenes, key=lambda s: s.order):
        for i, shot in enumerate(scene.shots[:2]):
            kind, ext = FORMATS[n % len(FORMATS)]
            n += 1
            name = f"{shot.id}_{KIND_WORDS.get(shot.kind, shot.kind)}{ext}"
            plan.append((folder / scene.id / name, kind, _label(scene, shot), f"{10 + i:02d}:{scene.order:02d}:00:00"))
    return plan


def _label(scene: Scene, shot: Shot) -> str:
    return f"{shot.id} · {scene.title.vi}"


def footage_complete(film: Film, folder: Path) -> bool:
    """Every sample clip and the broken file are there already (make_demo_footage would make nothing)."""
    paths = [path for path, *_ in _plan(film, folder)] + [folder / "S01" / BROKEN_NAME]
    return all(p.exists() for p in paths)


def make_demo_footage(
    film: Film, folder: Path, settings: RendersSettings, console: Console | None = None
) -> DemoFootage:
    """Make the clips that are missing (never rewrite one that exists), plus one broken file."""
    folder.mkdir(parents=True, exist_ok=True)
    result = DemoFootage(folder=folder)
    todo = []
    for path, kind, label, tc in _plan(film, folder):
        result.clips.append(path)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            todo.append((path, kind, label, tc))
    if todo and console:
        console.print(f"making {len(todo)} sample clips in {folder} …")
    if todo:
        from renders.synth import make_clip

        _make_clips(todo, film, settings, make_clip)
    result.made = len(todo)
    broken = folder / "S01" / BROKEN_NAME
    if not broken.exists():
        from renders.synth import make_broken_file

        make_broken_file(broken, settings=settings)
    result.broken.append(broken)
    return result


def _make_clips(todo: list[tuple[Path, str, str, str]], film: Film, settings: RendersSettings,
                make_clip: Callable[..., object]) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        # Shot at the film's rate, as the production's cameras would be.
        fps = film.film.fps
        futures = [pool.submit(make_clip, p, kind, label, CLIP_SECONDS, tc, fps=fps, settings=settings)
                   for p, kind, label, tc in todo]
        for fut in futures:
            fut.result()
