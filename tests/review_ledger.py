"""Test helper (not a test module): a docfilm home whose ledger holds clips with finished proxies.

Rows are written through the Ledger's own methods, with proxies pointing at the tiny real media the
`review_media` fixture makes, so `flows.steps.clip_records` gives playable records without rendering.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from qc_support import StoredQc

if TYPE_CHECKING:
    from flows.workspace import Workspace


@dataclass(frozen=True)
class LedgerClip:
    asset_id: str
    scene_id: str | None
    shot_id: str | None
    name: str
    start_timecode: str = "10:00:00:00"
    fps: tuple[int, int] = (25, 1)
    frames: int = 25


def ledger_workspace(home: Path, monkeypatch: pytest.MonkeyPatch, media: tuple[Path, Path],
                     clips: list[LedgerClip]) -> Workspace:
    """A Workspace on `home` (DOCFILM_HOME set for the test) with `clips` as assets with done proxies."""
    from assets_manifest.store import Asset, SourceSighting
    from flows.workspace import Workspace, film_path

    monkeypatch.setenv("DOCFILM_HOME", str(home))
    monkeypatch.delenv("DOCFILM_PACKETS_DIR", raising=False)
    ws = Workspace(film_path(None))
    profile = ws.profile.profile_hash()
    for clip in clips:
        sha = hashlib.sha256(clip.asset_id.encode()).hexdigest()
        asset = Asset(
            asset_id=clip.asset_id, sha256=sha, xxh128=sha[:32], size=1000, name=clip.name,
            path=f"/footage/{clip.name}", path_bytes=clip.name.encode(), kind="video", container="mov",
            video_codec="prores", width=1920, height=1080, fps_num=clip.fps[0], fps_den=clip.fps[1],
            duration_frames=clip.frames, rotation=0, field_order="progressive", vfr=False, audio_tracks=1,
            start_timecode=clip.start_timecode, scene_id=clip.scene_id, shot_id=clip.shot_id, probe={},
        )
        sighting = SourceSighting(path=asset.path, path_bytes=asset.path_bytes, size=1000, mtime_ns=0)
        ws.ledger.add_asset(asset, sighting)
        ws.ledger.record_proxy(clip.asset_id, profile, state="done", proxy_path=media[0], poster_path=media[1],
                               qc=StoredQc({"decode_error_count": 0}))
    return ws
