"""Conforming an editor's timeline to the ledger: each picture event to the asset whose frames it shows.

The video tracks are flattened as the NLE shows them (top track wins, `otio.algorithms.flatten_stack`), so a
generator on a higher track (slug, title, colour matte) covers what is below; it stays a generator and is listed
with the reason `generator`. Each clip event is matched, in order, by:

1. the media file name (FCP XML `pathurl`, Windows paths such as ``D:\\media\\x.mov`` included);
2. the clip name (EDL ``* FROM CLIP NAME:`` / ``* FROM CLIP:``) against file names without extension;
3. the reel/tape name (against the asset's reel tag, its file name without extension, or that name cut to the
   8 characters an Avid EDL keeps);
4. the source timecode range, which must fall inside exactly one asset's timecode span.

A name match whose source range is not inside the asset's span is not conformed (reason names the asset). An
event not conformed becomes a "missing media" slate of its length, as NLEs show offline media.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction
from pathlib import PurePosixPath, PureWindowsPath
from typing import Literal
from urllib.parse import unquote, urlsplit

import opentimelineio as otio
from opentimelineio import opentime

from storyboard.integrity import SCENE_ID_PATTERN

from .assemble import SLATE_KIND, _range
from .catalog import AssetRef, name_key, timecode_span
from .errors import CutForAnotherFilm, NoVideoTrack
from .rates import exact_rate
from .versions import METADATA_KEY

MatchedBy = Literal["file-name", "clip-name", "reel", "timecode"]
MISSING_KIND = "docfilm_missing"
_SCENE = re.compile(SCENE_ID_PATTERN.strip("^$"))


@dataclass(frozen=True)
class ConformedEvent:
    event: int
    name: str
    asset_id: str
    matched_by: MatchedBy
    record_in: int  # frames at the timeline's rate, from 00:00:00:00
    record_out: int  # exclusive
    source_in: int  # frames of the asset from its first frame
    source_out: int  # exclusive
    scene: str | None


@dataclass(frozen=True)
class UnresolvedEvent:
    event: int
    name: str
    reason: str
    record_in: int
    record_out: int


@dataclass(frozen=True)
class Conform:
    """The conformed cut: one flattened video track, every event either an asset's clip or a slate."""

    timeline: otio.schema.Timeline
    fps: Fraction
    start_frame: int  # the record start (e.g. 00:59:53:11) in frames at fps
    frames: int
    resolved: list[ConformedEvent]
    unresolved: list[UnresolvedEvent]
    scenes: list[str]

    @property
    def failed(self) -> list[UnresolvedEvent]:
        """Events that could not be conformed (generators are not failures)."""
        return [u for u in self.unresolved if u.reason != "generator"]


def _frames(t: opentime.RationalTime, fps: Fraction) -> int:
    return round(t.rescaled_to(float(fps)).value)


def media_file_name(clip: otio.schema.Clip) -> str | None:
    """The file name a clip's media reference points at (URL, POSIX or Windows path), or None."""
    ref = clip.media_reference
    url = getattr(ref, "target_url", None)
    if not url:
        return None
    parts = urlsplit(url)
    path = unquote(parts.path if parts.scheme in ("file", "http", "https") else url)
    name = PureWindowsPath(path).name if "\\" in path or re.match(r"^/?[A-Za-z]:", path) else PurePosixPath(path).name
    return unicodedata.normalize("NFC", name) or None


def reel_name(clip: otio.schema.Clip) -> str | None:
    for key in ("cmx_3600", "fcp_xml"):
        meta = clip.metadata.get(key)
        if isinstance(meta, otio._otio.AnyDictionary | dict):
            reel = meta.get("reel")
            if isinstance(reel, str) and reel and reel not in ("AX", "BL", "BLACK"):
                return reel
    return None


def event_number(clip: otio.schema.Clip, position: int) -> int:
    meta = clip.metadata.get("cmx_3600")
    if meta is not None and "event" in meta:
        return int(meta["event"])
    return position


class _Index:
    """The ledger's assets by file name, stem, reel and timecode span (per counting rate, sorted, so an event's
    source range finds the spans that hold it without a pass over every asset)."""

    def __init__(self, assets: list[AssetRef]) -> None:
        self.by_file: dict[str, list[AssetRef]] = defaultdict(list)
        self.by_stem: dict[str, list[AssetRef]] = defaultdict(list)
        self.by_reel: dict[str, list[AssetRef]] = defaultdict(list)
        spans: dict[Fraction, list[tuple[int, int, AssetRef]]] = defaultdict(list)
        for a in assets:
            stem = a.stem
            self.by_file[name_key(a.name)].append(a)
            self.by_stem[name_key(stem)].append(a)
            for reel in {a.reel, stem, stem[:8]}:
                if reel:
                    self.by_reel[name_key(reel)].append(a)
            span = timecode_span(a)
            if span is not None:
                spans[span[0]].append((span[1], span[2], a))
        # Per rate: spans sorted by start, their starts, and the furthest end of any span up to each index.
        self.by_rate: dict[Fraction, tuple[list[tuple[int, int, AssetRef]], list[int], list[int]]] = {}
        for rate, found in spans.items():
            found.sort(key=lambda span: (span[0], span[1], span[2].asset_id))
            reach, furthest = [], -1
            for _lo, hi, _a in found:
                furthest = max(furthest, hi)
                reach.append(furthest)
            self.by_rate[rate] = (found, [lo for lo, _hi, _a in found], reach)

    def by_timecode(self, start: opentime.RationalTime, end: opentime.RationalTime) -> list[AssetRef]:
        """The assets whose timecode span holds [start, end)."""
        found = []
        for rate, (spans, starts, reach) in self.by_rate.items():
            s, e = _frames(start, rate), _frames(end, rate)
            j = bisect.bisect_right(starts, s) - 1  # the last span starting at or before s
            while j >= 0 and reach[j] >= e:  # no span at or before j ends late enough once reach < e
                lo, hi, a = spans[j]
                if lo <= s and e <= hi:
                    found.append(a)
                j -= 1
        return found


def _latest(candidates: list[AssetRef]) -> AssetRef:
    return max(candidates, key=lambda a: (a.ingested_at, a.asset_id))


def _source_frames(clip: otio.schema.Clip, asset: AssetRef) -> tuple[int, int] | None:
    """The asset frames [in, out) the clip uses, or None when they are not inside the asset."""
    clock = asset.clock()
    start = (clock.count(0) or 0) if clock is not None else 0
    rate = clock.rate if clock is not None else asset.fps
    per = clock.per_count if clock is not None else 1
    src = clip.source_range
    first = (_frames(src.start_time, rate) - start) * per
    last = (_frames(src.end_time_exclusive(), rate) - start) * per
    if first < 0 or last > asset.frames:
        return None
    return first, last


def conform(timeline: otio.schema.Timeline, assets: list[AssetRef], film_id: str, source: str,
            rate: Fraction) -> Conform:
    """Conform `timeline` (read from `source`, named in messages) to `assets`; see the module's rules."""
    meta = timeline.metadata.get(METADATA_KEY)
    other = meta.get("film_id") if meta is not None else None
    if other and other != film_id:
        raise CutForAnotherFilm(f"{source}: this cut is of film {other!r}, not {film_id!r}; "
                                "pass --film with that film's storyboard")
    video = list(timeline.video_tracks())
    if not video:
        raise NoVideoTrack(f"{source}: the timeline has no video track, so no picture to conform")
    fps = _timeline_rate(timeline, video, rate)
    flat = otio.algorithms.flatten_stack(video) if len(video) > 1 else video[0].clone()
    start = _frames(timeline.global_start_time, fps) if timeline.global_start_time is not None else 0
    if flat.source_range is not None and timeline.global_start_time is None:
        start = -_frames(flat.source_range.start_time, fps)  # the EDL reader keeps the record start here
    index = _Index(assets)
    out = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    resolved: list[ConformedEvent] = []
    unresolved: list[UnresolvedEvent] = []
    record = start
    position = 0
    scene_of: dict[str, str | None] = {}
    for item in flat:
        if isinstance(item, otio.schema.Transition):
            continue
        length = _frames(item.duration(), fps)
        if isinstance(item, otio.schema.Clip):
            position += 1
            number = event_number(item, position)
            clip = item.clone()
            if isinstance(clip.media_reference, otio.schema.GeneratorReference):
                kind = clip.media_reference.generator_kind or "generator"
                if not kind.startswith("docfilm_"):
                    unresolved.append(UnresolvedEvent(number, clip.name, "generator", record, record + length))
                    clip.metadata[METADATA_KEY] = {"kind": "generator", "event": number, "generator": kind}
                out.append(clip)
            else:
                asset, by, reason = _match(clip, index)
                span = _source_frames(clip, asset) if asset is not None else None
                if asset is not None and span is None:
                    src = clip.source_range
                    reason = (f"source {_tc(src.start_time)}–{_tc(src.end_time_exclusive())} runs outside "
                              f"{asset.name} ({asset.asset_id}), "
                              f"{asset.start_timecode or '00:00:00:00'} for {asset.frames} frames")
                    asset = None
                if asset is None or by is None or span is None:
                    unresolved.append(UnresolvedEvent(number, clip.name, reason, record, record + length))
                    out.append(_missing(clip.name, number, length, fps, reason))
                else:
                    clip.metadata[METADATA_KEY] = {"kind": "take", "asset_id": asset.asset_id,
                                                   "scene": asset.scene_id, "shot": asset.shot_id,
                                                   "event": number, "matched_by": by}
                    resolved.append(ConformedEvent(number, clip.name, asset.asset_id, by, record, record + length,
                                                   span[0], span[1], asset.scene_id))
                    scene_of[asset.asset_id] = asset.scene_id
                    out.append(clip)
        else:
            out.append(item.clone())
        record += length
    conformed = otio.schema.Timeline(name=timeline.name or source)
    conformed.global_start_time = opentime.RationalTime(start, float(fps))
    conformed.metadata[METADATA_KEY] = {"film_id": film_id, "origin": "imported"}
    conformed.tracks.append(out)
    scenes = _scenes(timeline, video, resolved, start, fps, conformed)
    return Conform(conformed, fps, start, record - start, resolved, unresolved, scenes)


def _tc(t: opentime.RationalTime) -> str:
    return str(opentime.to_timecode(t, t.rate))


def _timeline_rate(timeline: otio.schema.Timeline, video: list[otio.schema.Track], given: Fraction) -> Fraction:
    """The timeline's own rate when it states one (XML, OTIO), else the given rate (EDLs carry none)."""
    for t in (timeline.global_start_time, video[0].source_range.start_time if video[0].source_range else None):
        if t is not None and t.rate > 0:
            return _exact(t.rate, given)
    for clip in video[0].find_clips():
        return _exact(clip.source_range.start_time.rate if clip.source_range else float(given), given)
    return given


def _exact(rate: float, given: Fraction) -> Fraction:
    """A float rate as the rational it stands for (29.97002997 → 30000/1001)."""
    return given if abs(rate - float(given)) < 1e-6 else exact_rate(rate)


def _match(clip: otio.schema.Clip, index: _Index) -> tuple[AssetRef | None, MatchedBy | None, str]:
    file_name = media_file_name(clip)
    if file_name and index.by_file.get(name_key(file_name)):
        return _latest(index.by_file[name_key(file_name)]), "file-name", ""
    # Avid writes the clip's name; Premiere and Resolve write the file name, extension included.
    said_name = name_key(clip.name) if clip.name else ""
    stem_hits = (index.by_stem.get(said_name) or index.by_file.get(said_name)) if said_name else None
    if not stem_hits and file_name:
        stem_hits = index.by_stem.get(name_key(PurePosixPath(file_name).stem))
    if stem_hits:
        return _latest(stem_hits), "clip-name", ""
    reel = reel_name(clip)
    if reel and index.by_reel.get(name_key(reel)):
        return _latest(index.by_reel[name_key(reel)]), "reel", ""
    if clip.source_range is not None:
        hits = index.by_timecode(clip.source_range.start_time, clip.source_range.end_time_exclusive())
        if len(hits) == 1:
            return hits[0], "timecode", ""
        if len(hits) > 1:
            names = ", ".join(sorted(a.name for a in hits)[:4])
            return None, None, f"source timecode fits {len(hits)} assets ({names}); name the clip or reel"
    said = ", ".join(x for x in (f"file {file_name}" if file_name else "", f"clip {clip.name}" if clip.name else "",
                                 f"reel {reel}" if reel else "") if x)
    return None, None, f"no asset in the ledger matches {said or 'this event'} or its source timecode"


def _missing(name: str, event: int, frames: int, fps: Fraction, reason: str) -> otio.schema.Clip:
    ref = otio.schema.GeneratorReference(generator_kind=MISSING_KIND, parameters={"reason": reason},
                                         available_range=_range(0, frames, fps))
    clip = otio.schema.Clip(name=f"missing media: {name}", media_reference=ref, source_range=_range(0, frames, fps))
    clip.metadata[METADATA_KEY] = {"kind": "missing", "event": event, "name": name, "reason": reason}
    return clip


def _scenes(timeline: otio.schema.Timeline, video: list[otio.schema.Track], resolved: list[ConformedEvent],
            start: int, fps: Fraction, conformed: otio.schema.Timeline) -> list[str]:
    """Scenes in cut order: from the conformed assets' scenes, else from markers named with a scene id."""
    order: list[str] = []
    for event in resolved:
        if event.scene and event.scene not in order:
            order.append(event.scene)
    if order:
        return order
    markers: list[tuple[int, str]] = []
    holders: list[otio.core.Item | otio.schema.Stack | otio.schema.Track] = [timeline.tracks, *video]
    for holder in holders:
        for marker in holder.markers:
            found = _SCENE.search(marker.name or "")
            if found:
                markers.append((_frames(marker.marked_range.start_time, fps), found.group(0)))
    for _at, scene in sorted(markers):
        if scene not in order:
            order.append(scene)
            conformed.tracks.markers.append(otio.schema.Marker(name=scene, marked_range=_range(_at, 0, fps)))
    return order


__all__ = ["SLATE_KIND", "Conform", "ConformedEvent", "UnresolvedEvent", "conform", "media_file_name"]
