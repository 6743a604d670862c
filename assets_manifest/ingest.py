"""Ingest: walk sources, hash each file in one read, probe it, and record it in the ledger.

Sources are only ever opened for reading. A file that cannot be read, probed or decoded is quarantined
with its reason and the run goes on. Hidden files (names starting with ".") are not footage and are not
counted.
"""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import SourceMissing, UnknownScene
from .hashing import digest_file
from .ledger import Ledger
from .probe import ProbeFailed, ProbeResult, probe
from .store import Asset, SourceSighting

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """What one ingest did, file by file (the `--json` contract of DESIGN.md)."""

    ingested: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    quarantined: list[dict[str, Any]] = field(default_factory=list)

    @property
    def seen(self) -> int:
        return len(self.ingested) + len(self.duplicates) + len(self.quarantined)

    def to_json(self) -> dict[str, Any]:
        return {"ingested": self.ingested, "duplicates": self.duplicates, "quarantined": self.quarantined}


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def display_path(path: Path) -> str:
    """The path as text for keys and display: NFC, undecodable bytes escaped rather than lost."""
    return nfc(os.fsdecode(os.fsencode(path)))


def walk_sources(sources: Sequence[Path], exclude: Sequence[Path] = ()) -> Iterator[tuple[Path, Path]]:
    """Yield (root, file) for every non-hidden regular file under the sources, in a stable order.

    Folders in `exclude` (docfilm's own data dir) are never walked into.
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
                d for d in dirs if not d.startswith(".") and (Path(folder) / d).resolve() not in skip
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


def ingest(
    sources: Sequence[Path],
    ledger: Ledger,
    *,
    scene_ids: set[str],
    shot_ids: set[str] | None = None,
    scene: str | None = None,
    on_file: Callable[[Path], None] | None = None,
    exclude: Sequence[Path] = (),
) -> IngestReport:
    """Ingest every file under the sources into the ledger; never raises for one bad file."""
    if scene is not None and scene not in scene_ids:
        raise UnknownScene(f"--scene {scene}: no such scene in the film (known: {', '.join(sorted(scene_ids))})")
    shot_ids = shot_ids or set()
    files = list(walk_sources([Path(s) for s in sources], exclude))
    report = IngestReport()
    for root, path in files:
        if on_file:
            on_file(path)
        _ingest_one(root, path, ledger, report, scene_ids, shot_ids, scene)
    return report


def _ingest_one(
    root: Path,
    path: Path,
    ledger: Ledger,
    report: IngestReport,
    scene_ids: set[str],
    shot_ids: set[str],
    forced_scene: str | None,
) -> None:
    shown = display_path(path.absolute())
    raw = os.fsencode(path.absolute())
    try:
        st = path.stat()
        digest = digest_file(path)
    except OSError as exc:
        reason = f"cannot read: {exc.strerror or exc}"
        ledger.quarantine(shown, raw, reason, None)
        report.quarantined.append({"path": shown, "reason": reason})
        log.warning("quarantined %s: %s", shown, reason)
        return
    known = ledger.asset_by_sha256(digest.sha256)
    sighting = SourceSighting(path=shown, path_bytes=raw, size=st.st_size, mtime_ns=st.st_mtime_ns)
    if known is not None:
        ledger.add_asset(known, sighting)
        report.duplicates.append({"path": shown, "asset_id": known.asset_id, "duplicate_of": known.path})
        return
    try:
        info = probe(path)
    except ProbeFailed as exc:
        ledger.quarantine(shown, raw, str(exc), digest.sha256)
        report.quarantined.append({"path": shown, "reason": str(exc)})
        log.warning("quarantined %s: %s", shown, exc)
        return
    scene, shot = assign_scene(root, path.absolute() if root == path else path, scene_ids, shot_ids)
    if forced_scene is not None:
        scene = forced_scene
        shot = shot if shot and shot.startswith(forced_scene) else None
    asset = _asset_row(digest.sha256, digest.xxh128, digest.size, shown, raw, info, scene, shot)
    stored, new = ledger.add_asset(asset, sighting)
    if not new:  # another ingest stored the same bytes between our lookup and our write
        report.duplicates.append({"path": shown, "asset_id": stored.asset_id, "duplicate_of": stored.path})
        return
    report.ingested.append(ingested_entry(stored))


def _asset_row(
    sha256: str,
    xxh128: str,
    size: int,
    shown: str,
    raw: bytes,
    info: ProbeResult,
    scene: str | None,
    shot: str | None,
) -> Asset:
    return Asset(
        asset_id=sha256[:16],
        sha256=sha256,
        xxh128=xxh128,
        size=size,
        name=nfc(Path(shown).name),
        path=shown,
        path_bytes=raw,
        kind=info.kind,
        container=info.container,
        video_codec=info.video_codec,
        width=info.width,
        height=info.height,
        fps_num=info.fps.numerator if info.fps else None,
        fps_den=info.fps.denominator if info.fps else None,
        duration_frames=info.duration_frames,
        rotation=info.rotation,
        field_order=info.field_order,
        vfr=info.vfr,
        audio_tracks=len(info.audio_tracks),
        start_timecode=info.start_timecode,
        scene_id=scene,
        shot_id=shot,
        probe=info.to_json(),
    )


def ingested_entry(a: Asset) -> dict[str, Any]:
    """One `ingested` item of the JSON contract."""
    return {
        "path": a.path,
        "asset_id": a.asset_id,
        "sha256": a.sha256,
        "xxh128": a.xxh128,
        "kind": a.kind,
        "duration_frames": a.duration_frames,
        "fps": a.fps,
        "width": a.width,
        "height": a.height,
        "rotation": a.rotation,
        "start_timecode": a.start_timecode,
        "scene": a.scene_id,
        "shot": a.shot_id,
        "field_order": a.field_order,
        "vfr": a.vfr,
        "audio_tracks": a.audio_tracks,
    }
