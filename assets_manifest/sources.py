"""Where footage comes from: walking cards and folders for media files, and which scene or shot a file is of."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from . import mhl
from .errors import SourceMissing
from .naming import nfc


def walk_sources(sources: Sequence[Path], exclude: Sequence[Path] = ()) -> Iterator[tuple[Path, Path]]:
    """Yield (root, file) for every non-hidden regular file under the sources, in a stable order.

    Folders in `exclude` (docfilm's own data dir, the library) and ``ascmhl`` folders are never walked into.
    """
    skip = {p.resolve() for p in exclude}
    for root in sources:
        if not root.exists():
            raise SourceMissing(f"{root}: no such file or folder")
        if root.is_file():
            yield root, root
            continue
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(
                d for d in dirs
                if not d.startswith(".") and d != mhl.FOLDER and (Path(folder) / d).resolve() not in skip
            )
            for name in sorted(files):
                if name.startswith("."):
                    continue
                path = Path(folder) / name
                if path.is_file():
                    yield root, path


def _id_prefix(name: str, ids: Iterable[str]) -> str | None:
    """The longest id that starts the name and is followed by a separator or nothing."""
    best = None
    for i in ids:
        if name.startswith(i) and re.match(r"^($|[^0-9A-Za-z])", name[len(i):]) and (
            best is None or len(i) > len(best)
        ):
            best = i
    return best


def assign_scene(
    root: Path, path: Path, scene_ids: set[str], shot_ids: set[str]
) -> tuple[str | None, str | None]:
    """Scene and shot from the file name, else the nearest folder (inside the source) that names one."""
    rel = path.relative_to(root.parent) if root != path else Path(path.name)
    parts = [nfc(p) for p in reversed(rel.parts)]
    for part in parts:
        shot = _id_prefix(part, shot_ids)
        scene = _id_prefix(part, scene_ids)
        if shot:
            return shot.split("-")[0] if shot.split("-")[0] in scene_ids else scene, shot
        if scene:
            return scene, None
    return None, None
