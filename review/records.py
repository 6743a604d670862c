"""Plain input records for review: what the ledger knows of each clip, so review needs no database."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from editorial.resolve import CutMap


@dataclass(frozen=True)
class ClipRecord:
    """One ingested asset as review sees it; built by the caller from the ledger.

    `duration_frames` is counted at `fps` (a rational rate written "25/1" or "30000/1001").
    `proxy`/`poster` are local files; review copies or hard-links them into the packet and never
    shows their paths. `proxy_state` is "done", "failed" or None (not rendered yet). `qc` is the render's
    QC record as the ledger stores it (renders' Proxy.qc JSON, read field by field by
    `review.cards.qc_flags`) and `contact_sheet` a picture of frames from the clip, when the render made
    them; the packet shows QC flags and the contact sheet when present.
    """

    asset_id: str
    name: str
    scene_id: str | None
    shot_id: str | None
    kind: str
    duration_frames: int | None
    fps: str | None
    width: int | None
    height: int | None
    rotation: int
    start_timecode: str | None
    sha256: str
    proxy: Path | None
    poster: Path | None
    proxy_state: str | None
    proxy_reason: str | None
    qc: Mapping[str, object] | None = None
    contact_sheet: Path | None = None
    quarantined: str | None = None  # why the master is quarantined (not rendered until ingested again)

    @property
    def has_done_proxy(self) -> bool:
        """True when the render finished and left a proxy file path (its existence is not checked)."""
        return self.proxy_state == "done" and self.proxy is not None


@dataclass(frozen=True)
class CutRecord:
    """The current review cut as the packet shows it; built by the caller from the ledger and the render.

    `map` is the cut version's map (editorial.resolve.CutMap): chapters, runtimes and what is under each frame.
    `path` and `poster` are the rendered review cut's local files (None when the current cut is not rendered:
    the packet then says so and shows the clips alone). `subtitles` holds the WebVTT text per language and
    `chapters` the chapters' WebVTT text, carried inside the page (Chromium loads no <track src> over file://).
    `video_start` is measured on the file: the MP4 join may present its first picture after 0 (by the AAC
    priming delay, 1024/48000 s); the page counts frames from there, so its record timecode names the frame on
    screen.
    """

    map: CutMap
    path: Path | None
    poster: Path | None
    subtitles: Mapping[str, str]
    chapters: str
    reason: str | None = None  # why there is no rendered cut to show, for the page
    video_start: float = 0.0  # when the review cut's first picture is presented, in seconds (an MP4 may delay it)
