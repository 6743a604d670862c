"""The ledger's footage as editorial sees it: one record per video asset, with its timecode span and QC state."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from pathlib import PurePath
from typing import TYPE_CHECKING

from core.timecode import Clock, InvalidTimecode

if TYPE_CHECKING:
    from assets_manifest.ledger import Ledger


@dataclass(frozen=True)
class AssetRef:
    """A video asset a clip can reference: identity, master path, rate, length and timecode start."""

    asset_id: str
    name: str  # NFC file name as ingested
    path: str  # the master in the library
    fps: Fraction
    frames: int
    start_timecode: str | None
    scene_id: str | None
    shot_id: str | None
    reel: str | None
    ingested_at: datetime
    qc_clean: bool  # a proxy was rendered under the current profile and QC flagged nothing

    @property
    def stem(self) -> str:
        return PurePath(self.name).stem

    def clock(self) -> Clock | None:
        """The asset's source timecode clock, or None when its timecode is unusable."""
        try:
            clock = Clock(self.fps, self.start_timecode or "00:00:00:00")
        except InvalidTimecode:
            return None
        return clock if clock.valid else None


def name_key(name: str) -> str:
    """How file, clip and reel names are compared: NFC, case-folded (NLEs on Windows and macOS ignore case)."""
    return unicodedata.normalize("NFC", name).strip().casefold()


def video_assets(ledger: Ledger, profile_hash: str | None = None) -> list[AssetRef]:
    """Every video asset of the ledger with a usable rate and length; QC-clean against `profile_hash`'s proxies."""
    proxies = ledger.proxies(profile_hash) if profile_hash else {}
    refs = []
    for asset in ledger.assets(kind="video"):
        if not (asset.fps_num and asset.fps_den and asset.duration_frames):
            continue
        proxy = proxies.get(asset.asset_id)
        clean = bool(proxy is not None and proxy.state == "done" and not (proxy.qc or {}).get("flags"))
        tags = (asset.probe or {}).get("tags") or {}
        refs.append(AssetRef(
            asset_id=asset.asset_id, name=asset.name, path=asset.path, fps=Fraction(asset.fps_num, asset.fps_den),
            frames=asset.duration_frames, start_timecode=asset.start_timecode, scene_id=asset.scene_id,
            shot_id=asset.shot_id, reel=tags.get("reel_name") if isinstance(tags, dict) else None,
            ingested_at=asset.ingested_at, qc_clean=clean,
        ))
    return refs
