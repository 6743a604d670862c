"""The string-out: every scene in storyboard order, a title card, then each shot's chosen take trimmed from its head.

Timing decisions (a professional assistant editor's string-out):
- The title card (scene id and title, Vietnamese with English, on black) opens each scene and is *added* to the
  scene's planned length, so the footage keeps the plan's time.
- A scene's planned frames are shared over its shots (the first shots get the odd frames). A take shorter than
  its share plays whole and black fills the rest; a shot without a take is a slate of its share; a scene with no
  footage at all is one slate at its planned length.
- Clips refer to the master in the library; `metadata["docfilm"]["asset_id"]` relinks them to masters or proxies.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
from opentimelineio import opentime

from storyboard.models import Film, Scene, Shot

from .catalog import AssetRef, name_key
from .versions import METADATA_KEY

TITLE_KIND = "docfilm_title"
SLATE_KIND = "docfilm_slate"


@dataclass(frozen=True)
class AssembledScene:
    scene: str
    frames: int  # title card included
    takes: int
    slates: int


@dataclass(frozen=True)
class Assembly:
    """The string-out and what went into it."""

    timeline: otio.schema.Timeline
    fps: Fraction
    frames: int
    scenes: list[AssembledScene]
    events: int  # clips of footage
    slates: int  # slates standing for missing footage (title cards not counted)


def _rt(frames: int, fps: Fraction) -> opentime.RationalTime:
    return opentime.RationalTime(frames, float(fps))


def _range(start: int, frames: int, fps: Fraction) -> opentime.TimeRange:
    return opentime.TimeRange(_rt(start, fps), _rt(frames, fps))


def chosen_take(shot: Shot, assets: list[AssetRef]) -> AssetRef | None:
    """The storyboard's `take:` (an asset id, or its first characters, or a file name), else the latest
    QC-clean asset of the shot."""
    if shot.take:
        wanted = name_key(shot.take)
        by_id = [a for a in assets if a.asset_id.startswith(shot.take)]
        if len(by_id) == 1:
            return by_id[0]
        by_name = [a for a in assets if name_key(a.name) == wanted or name_key(Path(a.path).name) == wanted]
        if by_name:
            return max(by_name, key=lambda a: a.ingested_at)
        return None
    clean = [a for a in assets if a.shot_id == shot.id and a.qc_clean]
    return max(clean, key=lambda a: (a.ingested_at, a.asset_id)) if clean else None


def _generator(name: str, kind: str, frames: int, fps: Fraction, **parameters: str) -> otio.schema.Clip:
    ref = otio.schema.GeneratorReference(generator_kind=kind, parameters=dict(parameters),
                                         available_range=_range(0, frames, fps))
    clip = otio.schema.Clip(name=name, media_reference=ref, source_range=_range(0, frames, fps))
    clip.metadata[METADATA_KEY] = {"kind": kind.removeprefix("docfilm_"), **parameters}
    return clip


def title_card(scene: Scene, frames: int, fps: Fraction) -> otio.schema.Clip:
    return _generator(f"{scene.id} {scene.title.vi}", TITLE_KIND, frames, fps, scene=scene.id,
                      title_vi=scene.title.vi, title_en=scene.title.en)


def slate(scene: str, frames: int, fps: Fraction, reason: str, shot: str | None = None) -> otio.schema.Clip:
    params = {"scene": scene, "reason": reason, **({"shot": shot} if shot else {})}
    return _generator(f"{shot or scene}: {reason}", SLATE_KIND, frames, fps, **params)


def take_clip(asset: AssetRef, frames: int, fps: Fraction, scene: str, shot: str) -> otio.schema.Clip:
    """The asset from its head for `frames` frames at the timeline's rate (counted at the asset's own rate)."""
    clock = asset.clock()
    start = clock.count(0) if clock is not None else 0
    rate = clock.rate if clock is not None else asset.fps
    src_frames = round(Fraction(frames) * rate / fps)
    ref = otio.schema.ExternalReference(
        target_url=Path(asset.path).absolute().as_uri(),
        available_range=_range(start or 0, round(Fraction(asset.frames) * rate / asset.fps), rate),
    )
    clip = otio.schema.Clip(name=Path(asset.name).stem, media_reference=ref,
                            source_range=_range(start or 0, src_frames, rate))
    clip.metadata[METADATA_KEY] = {"kind": "take", "asset_id": asset.asset_id, "scene": scene, "shot": shot}
    return clip


def shares(total: int, parts: int) -> list[int]:
    """`total` frames shared over `parts` as evenly as whole frames allow, the first parts taking the rest."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def assemble(film: Film, assets: list[AssetRef], title_seconds: Fraction = Fraction(2)) -> Assembly:
    """The string-out of `film` from `assets` (see the module's rules), at the film's rate."""
    fps = Fraction(film.film.fps)
    title_frames = round(title_seconds * fps)
    timeline = otio.schema.Timeline(name=f"{film.film.id} string-out")
    timeline.global_start_time = _rt(0, fps)
    timeline.metadata[METADATA_KEY] = {"film_id": film.film.id, "origin": "assembled"}
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    record = 0
    summary: list[AssembledScene] = []
    events = slates = 0
    for scene in sorted(film.scenes, key=lambda s: s.order):
        marker = otio.schema.Marker(name=scene.id, marked_range=_range(record, 0, fps),
                                    color=otio.schema.MarkerColor.RED)
        marker.metadata[METADATA_KEY] = {"scene": scene.id}
        timeline.tracks.markers.append(marker)
        track.append(title_card(scene, title_frames, fps))
        takes = [chosen_take(shot, assets) for shot in scene.shots]
        scene_takes = scene_slates = 0
        if not any(takes):
            track.append(slate(scene.id, scene.planned_frames, fps, "no footage yet"))
            scene_slates += 1
        else:
            for shot, take, share in zip(scene.shots, takes, shares(scene.planned_frames, len(scene.shots)),
                                         strict=True):
                if share == 0:
                    continue
                if take is None:
                    reason = f"take {shot.take!r} not in the ledger" if shot.take else "no footage yet"
                    track.append(slate(scene.id, share, fps, reason, shot.id))
                    scene_slates += 1
                    continue
                length = min(share, int(Fraction(take.frames) * fps / take.fps))
                track.append(take_clip(take, length, fps, scene.id, shot.id))
                scene_takes += 1
                if length < share:
                    track.append(otio.schema.Gap(source_range=_range(0, share - length, fps)))
        frames = title_frames + scene.planned_frames
        summary.append(AssembledScene(scene.id, frames, scene_takes, scene_slates))
        events += scene_takes
        slates += scene_slates
        record += frames
    return Assembly(timeline, fps, record, summary, events, slates)
