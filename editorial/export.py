"""Exporting the cut for an editor's NLE: relinked to the masters, as OTIO, a CMX 3600 EDL (Avid style) or
FCP 7 XML, through OpenTimelineIO's writers.

- Clips are relinked by `metadata["docfilm"]["asset_id"]` to the asset's master in the library and named after
  it; an EDL gets its reel (the asset's reel tag, else its file name without extension) cut to the 8
  characters Avid keeps, and `* FROM CLIP NAME:` / `* FROM CLIP:` comments.
- docfilm's own generators (title cards, slates, missing media) stay in OTIO; in an EDL or FCP 7 XML they are
  left empty (record time without an event), which NLEs show as black, so the editor's events are all real media.
- OTIO's EDL writer ignores the timeline's `global_start_time`: the record start (e.g. 00:59:53:11) is carried
  as the track's offset, which the writer honours.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Literal

import opentimelineio as otio
from opentimelineio import opentime

from .catalog import AssetRef
from .errors import EditorialError
from .versions import METADATA_KEY

ExportFormat = Literal["otio", "edl", "fcp7xml"]
SUFFIXES: dict[ExportFormat, str] = {"otio": ".otio", "edl": ".edl", "fcp7xml": ".xml"}
_ADAPTERS: dict[ExportFormat, str] = {"otio": "otio_json", "edl": "cmx_3600", "fcp7xml": "fcp_xml"}
AVID_REEL_LENGTH = 8


class ExportFailed(EditorialError):
    """OTIO's writer refused the cut (e.g. a construct the format cannot hold)."""


def relinked(timeline: otio.schema.Timeline, assets: dict[str, AssetRef],
             paths: dict[str, Path] | None = None) -> otio.schema.Timeline:
    """A copy of the cut whose clips point at their assets' masters (or at `paths[asset_id]`, e.g. proxies)."""
    copy = timeline.deepcopy()
    for clip in copy.find_clips():
        meta = clip.metadata.get(METADATA_KEY)
        asset = assets.get(str(meta.get("asset_id"))) if meta is not None and meta.get("asset_id") else None
        if asset is None:
            continue
        target = (paths or {}).get(asset.asset_id) or Path(asset.path)
        clock = asset.clock()
        rate = clock.rate if clock is not None else asset.fps
        start = (clock.count(0) or 0) if clock is not None else 0
        per = clock.per_count if clock is not None else 1
        # FCP 7 XML needs the file's own span (its <timecode> and <duration>), as NLEs relink by it.
        available = opentime.TimeRange(opentime.RationalTime(start, float(rate)),
                                       opentime.RationalTime(asset.frames // per, float(rate)))
        clip.media_reference = otio.schema.ExternalReference(target_url=target.absolute().as_uri(),
                                                             available_range=available)
        clip.name = asset.stem
        reel = (asset.reel or asset.stem).replace(" ", "_")[:AVID_REEL_LENGTH]
        clip.metadata["cmx_3600"] = {"reel": reel}
    return copy


def _for_nle(timeline: otio.schema.Timeline, fps: Fraction) -> tuple[otio.schema.Timeline, opentime.RationalTime]:
    """One video track, docfilm's generators as empty record time, the record start as the track's offset."""
    copy = timeline.deepcopy()
    start = timeline.global_start_time or opentime.RationalTime(0, float(fps))
    video = list(copy.video_tracks())
    for track in video:
        for index, item in enumerate(list(track)):
            ref = item.media_reference if isinstance(item, otio.schema.Clip) else None
            if isinstance(ref, otio.schema.GeneratorReference) and str(ref.generator_kind).startswith("docfilm_"):
                track[index] = otio.schema.Gap(source_range=opentime.TimeRange(
                    opentime.RationalTime(0, float(fps)), item.duration()))
            elif isinstance(ref, otio.schema.GeneratorReference):
                # The editor's own black or slug (an EDL's BL): FCP 7 XML writes a generatoritem only for a
                # reference with an effect type and a span, as Premiere's generators carry.
                if ref.available_range is None:
                    ref.available_range = item.source_range
                if "fcp_xml" not in ref.metadata:
                    ref.metadata["fcp_xml"] = {"effecttype": "generator", "effectcategory": "Matte",
                                               "mediatype": "video"}
        while len(track) and isinstance(track[-1], otio.schema.Gap):
            del track[-1]
    for track in list(copy.tracks):
        if track.kind != otio.schema.TrackKind.Video:
            copy.tracks.remove(track)
    return copy, start


def export_cut(timeline: otio.schema.Timeline, fmt: ExportFormat, fps: Fraction) -> str:
    """The cut as text in `fmt` (relink it first)."""
    if fmt == "otio":
        return str(otio.adapters.write_to_string(timeline, "otio_json"))
    nle, start = _for_nle(timeline, fps)
    try:
        if fmt == "edl":
            track = nle.video_tracks()[0]
            track.source_range = opentime.TimeRange(-start.rescaled_to(float(fps)), track.duration())
            nle.global_start_time = None
            return str(otio.adapters.write_to_string(nle, "cmx_3600", rate=float(fps), style="avid",
                                                     reelname_len=AVID_REEL_LENGTH))
        nle.global_start_time = start
        return str(otio.adapters.write_to_string(nle, _ADAPTERS[fmt]))
    except Exception as exc:  # the writers raise anything from OTIOError to AttributeError on what they cannot hold
        raise ExportFailed(f"OTIO's {_ADAPTERS[fmt]} writer refused the cut: {exc}") from exc
