"""What a media file holds, read in process with PyAV."""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import opentimelineio.opentime as otime

log = logging.getLogger(__name__)

# Rates a camera or phone records at; a measured average within 0.5 % of one is that rate.
STANDARD_RATES = [
    Fraction(24000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(30),
    Fraction(48), Fraction(50), Fraction(60000, 1001), Fraction(60), Fraction(100),
    Fraction(120000, 1001), Fraction(120), Fraction(240),
]
STILL_FORMATS = {"image2", "png_pipe", "jpeg_pipe", "webp_pipe", "tiff_pipe", "bmp_pipe", "gif", "gif_pipe"}
STILL_CODECS = {"mjpeg", "png", "tiff", "bmp", "webp", "gif", "jpegls", "jpeg2000"}
INTERLACED_ORDERS = {2: "tt", 3: "bb", 4: "tb", 5: "bt"}
TIMECODE_RE = re.compile(r"^\d{2}:\d{2}:\d{2}[:;.]\d{2}$")


class ProbeFailed(Exception):
    """PyAV could not open or decode the file; the message is the reason a producer reads."""


@dataclass
class AudioTrack:
    """One audio stream."""

    index: int
    codec: str
    sample_rate: int
    channels: int
    language: str | None = None


@dataclass
class ProbeResult:
    """The facts docfilm keeps about a media file."""

    kind: str  # video, audio or still
    container: str
    duration_frames: int | None
    fps: Fraction | None
    width: int | None = None
    height: int | None = None
    rotation: int = 0
    field_order: str = "progressive"
    video_codec: str | None = None
    pix_fmt: str | None = None
    vfr: bool = False
    start_timecode: str | None = None
    audio_tracks: list[AudioTrack] = field(default_factory=list)

    @property
    def fps_text(self) -> str | None:
        """The rate as "num/den", e.g. "25/1" or "30000/1001"."""
        return f"{self.fps.numerator}/{self.fps.denominator}" if self.fps else None

    @property
    def interlaced(self) -> bool:
        return self.field_order in INTERLACED_ORDERS.values()

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["fps"] = self.fps_text
        return d


def _snap_rate(rate: Fraction | None) -> Fraction | None:
    if not rate or rate <= 0:
        return None
    nearest = min(STANDARD_RATES, key=lambda std: abs(rate - std))
    return nearest if abs(rate - nearest) / nearest < Fraction(5, 1000) else rate


def _timecode_from_metadata(container: Any, fps: Fraction | None) -> str | None:
    """The start timecode a camera wrote (MOV tmcd, MXF, MPEG-TS), checked against the rate."""
    candidates: list[str] = []
    for meta in [container.metadata] + [s.metadata for s in container.streams]:
        value = meta.get("timecode")
        if value:
            candidates.append(value.strip())
    for tc in candidates:
        if not TIMECODE_RE.match(tc):
            continue
        if fps is None:
            return tc
        try:
            otime.from_timecode(tc.replace(".", ":"), float(fps))
        except ValueError:
            log.warning("ignoring timecode %s: not valid at %s fps", tc, fps)
            continue
        return tc
    return None


def _duration_frames(container: Any, stream: Any, fps: Fraction) -> int | None:
    if stream.frames and stream.frames > 1:
        return int(stream.frames)
    if stream.duration is not None and stream.time_base:
        seconds = Fraction(stream.duration) * stream.time_base
    elif container.duration is not None:
        seconds = Fraction(container.duration, av.time_base)
    else:
        return None
    return max(1, round(seconds * fps))


# What libav says, and what a producer should read instead.
PLAIN_REASONS = [
    ("moov atom not found", "no moov atom: the recording was interrupted or the file is truncated"),
    ("Invalid data found when processing input", "not a media file, or damaged beyond reading"),
    ("End of file", "the file ends before its first frame: truncated"),
]


def _cause(exc: Exception, logs: list[Any]) -> str:
    """A reason a producer understands, with libav's own words after it."""
    said = [str(m[2]).strip() for m in logs if m and m[0] <= av.logging.ERROR]
    base = getattr(exc, "strerror", None) or str(exc)
    last = str(exc).partition("last error log: ")[2].strip()
    detail = "; ".join(dict.fromkeys(said + ([last] if last else [])))
    raw = f"{base} ({detail})" if detail else base
    for needle, plain in PLAIN_REASONS:
        if needle in raw or needle in str(exc):
            return f"{plain} [{raw}]"
    return raw


def probe(path: Path) -> ProbeResult:
    """Open and decode the first frame of each kind of stream; raise ProbeFailed with a readable reason."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ProbeFailed(f"cannot read: {exc.strerror}") from exc
    if size == 0:
        raise ProbeFailed("zero-byte file")
    if av.logging.get_level() is None:
        # Without a level libav's own reason ("moov atom not found") never reaches us.
        av.logging.set_level(av.logging.ERROR)
    with av.logging.Capture() as logs:
        try:
            container = av.open(str(path), metadata_errors="replace")
        except av.FFmpegError as exc:
            raise ProbeFailed(_cause(exc, logs)) from exc
        try:
            return _probe_open(container, path, logs)
        finally:
            container.close()


def _probe_open(container: Any, path: Path, logs: list[Any]) -> ProbeResult:
    fmt = container.format.name
    videos = [s for s in container.streams.video if not (s.disposition & av.stream.Disposition.attached_pic)]
    audios = list(container.streams.audio)
    if not videos and not audios:
        raise ProbeFailed(f"not a media file: no audio or video stream ({fmt})")
    tracks = [
        AudioTrack(
            index=s.index,
            codec=s.codec_context.name,
            sample_rate=s.codec_context.sample_rate or 0,
            channels=s.codec_context.channels or 0,
            language=s.metadata.get("language"),
        )
        for s in audios
    ]
    if not videos:
        return _probe_audio(container, audios, tracks, logs)
    v = videos[0]
    cc = v.codec_context
    first = _first_frame(container, v, logs)
    still = fmt in STILL_FORMATS or (cc.name in STILL_CODECS and not audios and (v.frames or 0) <= 1)
    avg = _snap_rate(Fraction(v.average_rate)) if v.average_rate else None
    base = _snap_rate(Fraction(v.base_rate)) if v.base_rate else None
    order = INTERLACED_ORDERS.get(int(cc.field_order or 0))
    if order is None and getattr(first, "interlaced_frame", False):
        order = "tt" if getattr(first, "top_field_first", True) else "bb"
    fps = avg or base
    vfr = False
    if avg and base and avg not in (base, base / 2) and not still:
        # The average disagrees with the nominal rate (phones' slow motion, screen recordings).
        vfr = True
        fps = base
    if still:
        fps = None
    rotation = int(getattr(first, "rotation", 0) or 0)
    result = ProbeResult(
        kind="still" if still else "video",
        container=fmt,
        duration_frames=None if still or fps is None else _duration_frames(container, v, fps),
        fps=fps,
        width=cc.width,
        height=cc.height,
        rotation=rotation,
        field_order=order or "progressive",
        video_codec=cc.name,
        pix_fmt=cc.pix_fmt,
        vfr=vfr,
        start_timecode=None,
        audio_tracks=tracks,
    )
    if not still:
        result.start_timecode = _timecode_from_metadata(container, fps)
    return result


def _first_frame(container: Any, stream: Any, logs: list[Any]) -> Any:
    try:
        for frame in container.decode(stream):
            return frame
    except av.FFmpegError as exc:
        raise ProbeFailed(f"cannot decode {stream.codec_context.name} video: {_cause(exc, logs)}") from exc
    raise ProbeFailed(f"no decodable {stream.codec_context.name} video frame")


def _probe_audio(container: Any, audios: list[Any], tracks: list[AudioTrack], logs: list[Any]) -> ProbeResult:
    a = audios[0]
    try:
        for _frame in container.decode(a):
            break
        else:
            raise ProbeFailed(f"no decodable {a.codec_context.name} audio")
    except av.FFmpegError as exc:
        raise ProbeFailed(f"cannot decode {a.codec_context.name} audio: {_cause(exc, logs)}") from exc
    seconds: Fraction | None = None
    if a.duration is not None and a.time_base:
        seconds = Fraction(a.duration) * a.time_base
    elif container.duration is not None:
        seconds = Fraction(container.duration, av.time_base)
    # Audio has no frame rate of its own: count it at the film's rate (25 fps, PAL region).
    film_rate = Fraction(25)
    return ProbeResult(
        kind="audio",
        container=container.format.name,
        duration_frames=round(seconds * film_rate) if seconds is not None else None,
        fps=film_rate,
        audio_tracks=tracks,
        start_timecode=_timecode_from_metadata(container, film_rate),
    )
