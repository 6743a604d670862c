"""The packet's media folder: which proxies, posters and contact sheets go in, under which names, and how they
get there without copying what the previous packet already holds.

A file is hard-linked from the previous packet when its size and mtime match the source (copy2 and hard links
both keep them), otherwise hard-linked from the source, and only copied (with copy2) when hard links are not
possible. Names derive from the asset id, so the folder works from file:// on a laptop or a USB stick.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from core.vocabulary import content_type
from review.records import ClipRecord
from review.views import ClipState

log = logging.getLogger(__name__)

_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]+")
# FAT and exFAT (USB sticks) keep mtimes to 2 s, so a copy2'd file there never matches to the nanosecond.
_COPY_MTIME_TOLERANCE_NS = 2_000_000_000


@dataclass(frozen=True)
class ClipMedia:
    """How one clip shows: its state and, when playable, its packet-relative media names and media type."""

    state: ClipState
    media_src: str | None = None
    media_type: str | None = None
    poster_src: str | None = None
    sheet_src: str | None = None


def media_type(kind: str, suffix: str) -> str | None:
    """The type a <source> element announces for a proxy: video/… or audio/… by the file's suffix."""
    known = content_type(suffix)
    if kind == "video":
        return known if known.startswith("video/") else "video/mp4"
    if kind == "audio":
        # An audio-only MP4 (.m4a or .mp4) is audio/mp4 to a browser.
        return known.replace("video/", "audio/") if known.startswith(("audio/", "video/")) else "audio/mp4"
    return None


@dataclass
class MediaPlan:
    """Media files to place in the packet (packet-relative name -> source file) and each clip's media."""

    files: dict[str, Path] = field(default_factory=dict)
    clips: dict[str, ClipMedia] = field(default_factory=dict)
    used_stems: set[str] = field(default_factory=set)

    def _stem_for(self, asset_id: str) -> str:
        stem = _UNSAFE_NAME_CHARS.sub("_", asset_id).strip("_")[:80] or "asset"
        candidate, n = stem, 1
        while candidate in self.used_stems:
            n += 1
            candidate = f"{stem}-{n}"
        self.used_stems.add(candidate)
        return candidate

    def _add(self, stem: str, suffix: str, source: Path) -> str:
        name = f"media/{stem}{suffix}"
        self.files[name] = source
        return name

    def add_clip(self, clip: ClipRecord) -> ClipMedia:
        """Plan the clip's proxy, poster and contact sheet; its state says whether it can be shown."""
        media = self._plan(clip)
        self.clips[clip.asset_id] = media
        return media

    def _plan(self, clip: ClipRecord) -> ClipMedia:
        if clip.proxy_state == "failed":
            return ClipMedia("failed")
        if not clip.has_done_proxy:
            return ClipMedia("pending")
        assert clip.proxy is not None  # has_done_proxy guarantees it
        if not clip.proxy.is_file():
            log.warning("clip %s: proxy marked done but %s is missing; listed as missing", clip.asset_id, clip.proxy)
            return ClipMedia("missing")
        stem = self._stem_for(clip.asset_id)
        suffix = clip.proxy.suffix.lower()
        poster = sheet = None
        source = self._add(stem, suffix, clip.proxy)
        if clip.poster is not None and clip.poster.is_file():
            poster = self._add(stem, "-poster" + clip.poster.suffix.lower(), clip.poster)
        if clip.contact_sheet is not None and clip.contact_sheet.is_file():
            sheet = self._add(stem, "-sheet" + clip.contact_sheet.suffix.lower(), clip.contact_sheet)
        return ClipMedia("playable", source, media_type(clip.kind, suffix), poster, sheet)

    def proxy_of(self, asset_id: str) -> str | None:
        """The packet name of a clip's proxy, None when it has none in the packet."""
        media = self.clips.get(asset_id)
        return media.media_src if media is not None else None


def same_file_content(previous: Path, source: Path) -> bool:
    """Whether the previous packet's file is the source unchanged: same file, or same size and mtime."""
    try:
        if os.path.samefile(previous, source):
            return True
        prev_st, src_st = previous.stat(), source.stat()
    except OSError:
        return False
    if prev_st.st_size != src_st.st_size:
        return False
    if prev_st.st_dev == src_st.st_dev:
        return prev_st.st_mtime_ns == src_st.st_mtime_ns
    return abs(prev_st.st_mtime_ns - src_st.st_mtime_ns) < _COPY_MTIME_TOLERANCE_NS


def link_or_copy(source: Path, dest: Path) -> None:
    """Hard-link `source` as `dest`, or copy it (keeping its mtime) where hard links are not possible."""
    try:
        os.link(source, dest)
    except OSError:
        # Another file system, or one without hard links (FAT on a USB stick): copy2 keeps the mtime.
        shutil.copy2(source, dest)


def place_media(plan: MediaPlan, build: Path, previous: Path) -> tuple[int, int]:
    """Put every planned file into `build`; returns (reused from the previous packet, added)."""
    reused = added = 0
    (build / "media").mkdir()
    had_media = (previous / "media").is_dir()  # a first build: nothing to look for, file by file
    for name, source in sorted(plan.files.items()):
        dest = build / name
        before = previous / name
        if had_media and before.is_file() and same_file_content(before, source):
            link_or_copy(before, dest)
            reused += 1
        else:
            link_or_copy(source, dest)
            added += 1
    return reused, added
