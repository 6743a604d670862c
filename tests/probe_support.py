"""Ledger rows for files probed in process, as ingest would write them, for render tests without a ledger."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path

from assets_manifest.probe import probe
from assets_manifest.store import Asset


def asset_for(path: Path, film_rate: Fraction) -> Asset:
    """The ledger row ingest would write for `path` (probed in process; audio counted at `film_rate`)."""
    found = probe(path, film_rate)
    return Asset(
        asset_id=hashlib.sha256(path.name.encode()).hexdigest()[:16],
        name=path.name,
        path=str(path),
        kind=found.kind,
        fps_num=found.fps.numerator if found.fps else None,
        fps_den=found.fps.denominator if found.fps else None,
        width=found.width,
        height=found.height,
        rotation=found.rotation,
        field_order=found.field_order,
        duration_frames=found.duration_frames,
        audio_tracks=len(found.audio_tracks),
        start_timecode=found.start_timecode,
        probe=found.to_json(),
    )
