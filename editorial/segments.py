"""The review cut's plan: the current cut relinked to proxies, as segments (maximal runs of one scene's events).

Each piece of a segment is a take (proxy frames [source_in, source_in + frames) at the proxy's rate), a card
(title, slate, missing media, an NLE generator: text on black) or black (a gap). Record positions are frames at the
timeline's rate counted from 00:00:00:00, so the record timecode burnt in is the timeline's own (01:00:00:00, or an
EDL's 00:59:53:11). A segment's key hashes everything that changes its pixels or sound: its pieces (record
position included, since the record timecode is burnt in), the masters' hashes and the render profile. A change
that keeps a scene's length re-renders that scene only; one that changes its length moves the record timecode of
every later scene, and so re-renders them too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Literal

import opentimelineio as otio

from core.timecode import Clock, rate_text, review_rate

from .catalog import AssetRef
from .errors import EditorialError
from .rates import exact_rate
from .versions import METADATA_KEY

PieceKind = Literal["take", "card", "black"]
DROP_FRAME_RATES = (Fraction(30000, 1001), Fraction(60000, 1001))


class MissingProxies(EditorialError):
    """Takes of the cut whose assets have no finished proxy under the current render profile (exit 1)."""


@dataclass(frozen=True)
class ProxyRef:
    """A finished proxy of an asset: its file and the rate its frames are at."""

    path: Path
    fps: Fraction
    has_audio: bool
    stamp: str = ""  # which file it is (size, mtime): a proxy rendered again changes its segments' keys


@dataclass(frozen=True)
class Piece:
    kind: PieceKind
    record_in: int  # frames at the timeline's rate from 00:00:00:00
    frames: int  # record frames
    name: str
    event: int  # 1-based position on the track, or the EDL's own event number
    lines: tuple[str, ...] = ()  # a card's text
    asset_id: str | None = None
    master_sha256: str | None = None
    proxy: str | None = None
    proxy_fps: Fraction | None = None
    proxy_stamp: str = ""
    has_audio: bool = False
    source_in: int = 0  # proxy frames
    source_timecode: str | None = None  # timecode of the first source frame shown
    source_rate: Fraction | None = None  # the rate that timecode counts at


@dataclass(frozen=True)
class Segment:
    scene: str
    index: int
    record_in: int
    frames: int
    pieces: tuple[Piece, ...]
    key: str = ""


@dataclass(frozen=True)
class Unresolved:
    event: int
    name: str
    reason: str


@dataclass(frozen=True)
class CutPlan:
    film_id: str
    fps: Fraction
    start_frame: int
    frames: int
    segments: tuple[Segment, ...]
    events: int
    resolved: int
    unresolved: tuple[Unresolved, ...] = field(default_factory=tuple)

    @property
    def drop_frame(self) -> bool:
        return self.fps in DROP_FRAME_RATES

    def clock(self) -> Clock:
        """Record timecode: frame 0 of the clock is 00:00:00:00 at the timeline's rate."""
        return Clock(self.fps, "00:00:00;00" if self.drop_frame else "00:00:00:00")

    def record_timecode(self, frame: int) -> str:
        return self.clock().at(frame) or "00:00:00:00"

    @property
    def start_timecode(self) -> str:
        return self.record_timecode(self.start_frame)


def _frames(t: otio.opentime.RationalTime, fps: Fraction) -> int:
    return round(t.rescaled_to(float(fps)).value)


def _card_lines(meta: dict[str, object], name: str) -> tuple[str, ...]:
    kind = meta.get("kind")
    if kind == "title":
        return tuple(str(meta.get(k, "")) for k in ("scene", "title_vi", "title_en") if meta.get(k))
    if kind == "missing":
        return ("MEDIA OFFLINE", str(meta.get("name") or name), str(meta.get("reason") or ""))
    if kind == "slate":
        return tuple(str(v) for v in (meta.get("shot") or meta.get("scene"), meta.get("reason")) if v)
    return (name or "generator",)


def plan_cut(
    timeline: otio.schema.Timeline,
    film_id: str,
    film_fps: Fraction,
    assets: dict[str, AssetRef],
    masters: dict[str, str],
    proxies: dict[str, ProxyRef],
    profile_hash: str,
) -> CutPlan:
    """The segments of `timeline` relinked to `proxies`; MissingProxies lists the takes that have none.

    `masters` maps asset ids to their master's SHA-256.
    """
    tracks = list(timeline.video_tracks())
    track = otio.algorithms.flatten_stack(tracks) if len(tracks) > 1 else (tracks[0] if tracks else None)
    start = timeline.global_start_time
    fps = exact_rate(start.rate) if start is not None else film_fps
    start_frame = _frames(start, fps) if start is not None else 0
    pieces: list[tuple[str, Piece]] = []
    unresolved: list[Unresolved] = []
    missing: list[str] = []
    record = start_frame
    scene = "—"
    events = resolved = position = 0
    for item in track or []:
        if isinstance(item, otio.schema.Transition):
            continue
        length = _frames(item.duration(), fps)
        if length <= 0:
            continue
        if not isinstance(item, otio.schema.Clip):
            pieces.append((scene, Piece("black", record, length, "gap", 0)))
            record += length
            continue
        position += 1
        meta = dict(item.metadata.get(METADATA_KEY) or {})
        number = int(meta.get("event") or position)
        scene = str(meta.get("scene") or scene)
        kind = meta.get("kind")
        asset = assets.get(str(meta.get("asset_id"))) if kind == "take" else None
        if kind == "take":
            events += 1
        if asset is None:
            if kind == "take":
                unresolved.append(Unresolved(number, item.name, f"asset {meta.get('asset_id')} not in the ledger"))
            elif kind in ("missing", "generator"):
                events += 1
                unresolved.append(Unresolved(number, item.name, str(meta.get("reason") or "generator")))
            pieces.append((scene, Piece("card", record, length, item.name, number, _card_lines(meta, item.name))))
            record += length
            continue
        scene = str(meta.get("scene") or asset.scene_id or scene)
        proxy = proxies.get(asset.asset_id)
        if proxy is None:
            missing.append(f"{asset.name} ({asset.asset_id})")
            record += length
            continue
        resolved += 1
        clock = asset.clock()
        origin = (clock.count(0) or 0) if clock is not None else 0
        count_rate = clock.rate if clock is not None else asset.fps
        per = clock.per_count if clock is not None else 1
        first = (_frames(item.source_range.start_time, count_rate) - origin) * per  # asset frames
        proxy_in = int(Fraction(first) * proxy.fps / asset.fps)
        pieces.append((scene, Piece(
            "take", record, length, item.name, number, asset_id=asset.asset_id,
            master_sha256=masters.get(asset.asset_id), proxy=str(proxy.path), proxy_fps=proxy.fps,
            proxy_stamp=proxy.stamp, has_audio=proxy.has_audio, source_in=proxy_in,
            source_timecode=clock.at(first) if clock is not None else None,
            source_rate=count_rate,
        )))
        record += length
    if missing:
        raise MissingProxies(
            f"{len(missing)} take(s) of the cut have no proxy under the current render profile: "
            + ", ".join(missing) + "; run `docfilm render` first, then `docfilm cut render` again"
        )
    segments = _segments(pieces, fps, start_frame, profile_hash)
    return CutPlan(film_id, fps, start_frame, record - start_frame, segments, events, resolved, tuple(unresolved))


def _segments(pieces: list[tuple[str, Piece]], fps: Fraction, start_frame: int,
              profile_hash: str) -> tuple[Segment, ...]:
    runs: list[tuple[str, list[Piece]]] = []
    for scene, piece in pieces:
        if runs and runs[-1][0] == scene:
            runs[-1][1].append(piece)
        else:
            runs.append((scene, [piece]))
    out = []
    for index, (scene, run) in enumerate(runs):
        record_in = run[0].record_in
        frames = sum(p.frames for p in run)
        payload = {
            "profile": profile_hash, "fps": rate_text(fps), "drop": fps in DROP_FRAME_RATES,
            "pieces": [{k: (str(v) if isinstance(v, Fraction) else v) for k, v in asdict(p).items()} for p in run],
        }
        key = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:24]
        out.append(Segment(scene, index, record_in, frames, tuple(run), key))
    return tuple(out)


def proxy_rate(asset_fps: Fraction) -> Fraction:
    """The rate an asset's video proxy runs at (renders makes proxies at the review rate)."""
    return review_rate(asset_fps)
