"""Reading an editor's timeline with OpenTimelineIO's adapters, by suffix; failures as BadInput naming the file.

The CMX 3600 reader drops each event's number once a `* FROM CLIP NAME` names the clip; its clip handler is
extended (not re-implemented) to keep the number in `metadata["cmx_3600"]["event"]` and to say which events
overlap when the reader refuses a record overlap.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

import opentimelineio as otio

from .errors import OverlappingEvents, UnreadableTimeline

ADAPTERS = {".otio": "otio_json", ".edl": "cmx_3600", ".xml": "fcp_xml", ".fcpxml": "fcpx_xml", ".aaf": "AAF"}
_edl_lock = threading.Lock()


@contextmanager
def _numbered_edl_events(seen: list[int]) -> Iterator[None]:
    # The plugin system loads the adapter's module itself (a module object of its own): extend that one.
    cmx_3600 = otio.adapters.from_name("cmx_3600").module()
    base = cmx_3600.ClipHandler

    class NumberedClipHandler(base):  # type: ignore[misc, valid-type]
        def __init__(self, line: str, comment_data: Any, *args: Any, **kwargs: Any) -> None:
            self._event_line = line
            super().__init__(line, comment_data, *args, **kwargs)
            seen.append(int(self.clip_num))

        def make_clip(self, comment_data: Any) -> Any:
            clip = super().make_clip(comment_data)
            clip.metadata.setdefault("cmx_3600", {})["event"] = int(self.clip_num)
            return clip

    with _edl_lock:
        cmx_3600.ClipHandler = NumberedClipHandler
        try:
            yield
        finally:
            cmx_3600.ClipHandler = base


def read_timeline(path: Path, rate: Fraction) -> otio.schema.Timeline:
    """The timeline in `path` (.otio, .edl, FCP 7 .xml, .fcpxml, .aaf); `rate` is the EDL's, which carry none."""
    adapter = ADAPTERS.get(path.suffix.lower())
    if adapter is None:
        raise UnreadableTimeline(f"{path}: no adapter reads {path.suffix or 'files without a suffix'} "
                                 f"(known: {', '.join(ADAPTERS)})")
    if not path.is_file():
        raise UnreadableTimeline(f"{path}: no such file")
    seen: list[int] = []
    try:
        if adapter == "cmx_3600":
            with _numbered_edl_events(seen):
                # A rational as a float (24000/1001 = 23.976023…): the reader refuses the rounded 23.976.
                result = otio.adapters.read_from_file(str(path), adapter, rate=float(rate))
        else:
            result = otio.adapters.read_from_file(str(path), adapter)
    except Exception as exc:  # the adapters raise anything from ParseError to KeyError; each is the file's fault
        message = str(exc).strip() or type(exc).__name__
        if adapter == "cmx_3600" and "Overlapping record" in message and len(seen) >= 2:
            raise OverlappingEvents(
                f"{path}: event {seen[-1]:03d} starts before event {seen[-2]:03d} ends in record time "
                f"({message}); fix the record timecode of one of them"
            ) from exc
        where = ""
        if isinstance(exc, ParseError):
            where = f" at line {exc.position[0]}, column {exc.position[1]}"
        elif adapter == "cmx_3600" and seen:
            where = f" at event {seen[-1]:03d}"
        raise UnreadableTimeline(f"{path}: the {adapter} adapter cannot read it{where}: {message}") from exc
    if isinstance(result, otio.schema.Timeline):
        timeline = result
    else:
        found = list(result.find_children(descended_from_type=otio.schema.Timeline)) if result is not None else []
        if not found:
            raise UnreadableTimeline(f"{path}: the {adapter} adapter found no timeline in it")
        timeline = found[0]
    if adapter == "fcpx_xml":
        _leading_gap_as_start(timeline)
    return timeline


def _leading_gap_as_start(timeline: otio.schema.Timeline) -> None:
    """The FCPXML reader places clips at their absolute offsets and leaves the sequence's start (tcStart) as a
    leading gap on every track: make that gap the timeline's start, as the NLE shows it."""
    if timeline.global_start_time is not None:
        return
    tracks = list(timeline.tracks)
    if not tracks or not all(len(t) and isinstance(t[0], otio.schema.Gap) for t in tracks):
        return
    lead = min(t[0].duration() for t in tracks)
    for track in tracks:
        gap = track[0]
        rest = gap.duration() - lead
        if rest.value <= 0:
            del track[0]
        else:
            gap.source_range = otio.opentime.TimeRange(otio.opentime.RationalTime(0, rest.rate), rest)
    timeline.global_start_time = lead
