"""What is under a frame of the cut: record timecode → scene, shot, asset and source timecode (read-only).

A `CutMap` lists the cut's pieces in record order (takes, cards, gaps) with where each take's source starts,
made from a cut version's timeline and the ledger's assets. `resolve` is the one lookup the packet (notes shown
beside the film) and `docfilm notes import` both use. Record frames are counted from the cut's first frame; the
record timecode is the timeline's own (01:00:00:00, or an EDL's 00:59:53:11; drop-frame at 29.97 and 59.94).
A take's source frame is counted from the asset's first frame at the rate its review proxy plays (the rate a
clip note counts at, `core.timecode.review_rate`), and its source timecode is the asset's own at that frame.
A card (title, slate, missing media, an NLE generator) or a gap resolves to its scene only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from core.timecode import Clock, InvalidTimecode, rate_text, source_timecode

from .catalog import AssetRef
from .segments import DROP_FRAME_RATES, PieceKind, ProxyRef, plan_cut, proxy_rate


@dataclass(frozen=True)
class CutEvent:
    """One piece of the cut on the record timeline."""

    record_in: int  # frames from the cut's first frame
    frames: int
    scene: str
    kind: PieceKind  # take, card or black (a gap)
    name: str
    event: int  # the EDL's event number, or the 1-based position on the flattened track (0: a gap)
    asset_id: str | None = None
    shot: str | None = None
    source_in: int = 0  # the take's first frame, from the asset's first frame at `source_fps`
    source_fps: Fraction | None = None  # the rate source frames count at (the review proxy's)
    source_start: str | None = None  # the asset's start timecode

    def to_json(self) -> dict[str, object]:
        return {"in": self.record_in, "frames": self.frames, "scene": self.scene, "kind": self.kind,
                "name": self.name, "event": self.event, "asset": self.asset_id, "shot": self.shot,
                "src_in": self.source_in, "src_fps": rate_text(self.source_fps) if self.source_fps else None,
                "src_start": self.source_start}


@dataclass(frozen=True)
class CutMap:
    """A cut version's pieces in record order, and its record clock."""

    film_id: str
    version: int
    sha256: str
    fps: Fraction
    start_frame: int  # the record start, in frames from 00:00:00:00 at `fps`
    frames: int
    events: tuple[CutEvent, ...]

    @property
    def drop_frame(self) -> bool:
        return self.fps in DROP_FRAME_RATES

    def _clock(self) -> Clock:
        return Clock(self.fps, "00:00:00;00" if self.drop_frame else "00:00:00:00")

    def record_timecode(self, frame: int) -> str:
        """The record timecode of the cut's `frame` (0: its first)."""
        return self._clock().at(self.start_frame + frame) or "00:00:00:00"

    @property
    def start_timecode(self) -> str:
        return self.record_timecode(0)

    def frame_of(self, timecode: str) -> int | None:
        """The cut's frame at a record timecode; None when it is not a timecode of this cut."""
        try:
            count = self._clock().frame_of(timecode)
        except InvalidTimecode:
            return None
        if count is None:
            return None
        frame = count - self.start_frame
        return frame if 0 <= frame < self.frames else None

    def scene_frames(self) -> dict[str, int]:
        """Each scene's frames on the cut (title cards, slates and gaps in it included), in cut order."""
        out: dict[str, int] = {}
        for event in self.events:
            out[event.scene] = out.get(event.scene, 0) + event.frames
        return out

    def scene_spans(self) -> list[tuple[str, int, int]]:
        """(scene, first frame, frames) of each run of one scene, in cut order."""
        spans: list[tuple[str, int, int]] = []
        for event in self.events:
            if spans and spans[-1][0] == event.scene:
                scene, first, frames = spans[-1]
                spans[-1] = (scene, first, frames + event.frames)
            else:
                spans.append((event.scene, event.record_in, event.frames))
        return spans

    def to_json(self) -> dict[str, object]:
        return {"film": self.film_id, "version": self.version, "sha256": self.sha256, "fps": rate_text(self.fps),
                "start_timecode": self.start_timecode, "start_frame": self.start_frame, "frames": self.frames,
                "events": [e.to_json() for e in self.events]}


@dataclass(frozen=True)
class Resolution:
    """What is under one frame of the cut: always its scene; for a take, its shot, asset and source frame."""

    frame: int
    record_timecode: str
    scene: str
    kind: PieceKind
    name: str
    event: int
    shot: str | None = None
    asset_id: str | None = None
    source_frame: int | None = None
    source_timecode: str | None = None
    source_fps: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"frame": self.frame, "record_timecode": self.record_timecode, "scene": self.scene,
                "kind": self.kind, "name": self.name, "event": self.event, "shot": self.shot,
                "asset_id": self.asset_id, "source_frame": self.source_frame,
                "source_timecode": self.source_timecode, "source_fps": self.source_fps}


def cut_map(
    timeline: otio.schema.Timeline, film_id: str, film_fps: Fraction, assets: Mapping[str, AssetRef],
    version: int = 0, sha256: str = "",
) -> CutMap:
    """The map of a cut version's timeline, its takes relinked to `assets` (no proxy needed)."""
    # The review cut's own plan, so the map is the film the packet plays, piece for piece; proxies are named
    # only for their rate (nothing is read).
    proxies = {a.asset_id: ProxyRef(Path(a.path), proxy_rate(a.fps), False) for a in assets.values()}
    plan = plan_cut(timeline, film_id, film_fps, dict(assets), {}, proxies, "")
    events = []
    for segment in plan.segments:
        for piece in segment.pieces:
            asset = assets.get(piece.asset_id) if piece.asset_id else None
            record_in = piece.record_in - plan.start_frame
            if piece.kind == "take" and asset is not None:
                events.append(CutEvent(record_in, piece.frames, segment.scene, "take", piece.name, piece.event,
                                       asset.asset_id, asset.shot_id, piece.source_in, piece.proxy_fps,
                                       asset.start_timecode))
            else:
                events.append(CutEvent(record_in, piece.frames, segment.scene, piece.kind, piece.name, piece.event))
    return CutMap(film_id, version, sha256, plan.fps, plan.start_frame, plan.frames, tuple(events))


def source_offset(event: CutEvent, offset: int, record_fps: Fraction) -> int:
    """The source frame `offset` record frames into a take: each source frame held for its duration."""
    fps = event.source_fps or record_fps
    return event.source_in + math.floor(Fraction(offset) * fps / record_fps)


def resolve(cut: CutMap, frame: int) -> Resolution | None:
    """What is under the cut's `frame` (0: its first); None past either end."""
    if not 0 <= frame < cut.frames:
        return None
    low, high = 0, len(cut.events) - 1
    while low < high:  # the last event starting at or before `frame`
        middle = (low + high + 1) // 2
        if cut.events[middle].record_in <= frame:
            low = middle
        else:
            high = middle - 1
    event = cut.events[low]
    record_tc = cut.record_timecode(frame)
    if event.kind != "take" or event.asset_id is None or event.source_fps is None:
        return Resolution(frame, record_tc, event.scene, event.kind, event.name, event.event)
    source = source_offset(event, frame - event.record_in, cut.fps)
    return Resolution(frame, record_tc, event.scene, "take", event.name, event.event, event.shot, event.asset_id,
                      source, source_timecode(event.source_start, source, event.source_fps),
                      rate_text(event.source_fps))


def resolve_timecode(cut: CutMap, timecode: str) -> Resolution | None:
    """What is under a record timecode of the cut; None when the cut has no such frame."""
    frame = cut.frame_of(timecode)
    return None if frame is None else resolve(cut, frame)
