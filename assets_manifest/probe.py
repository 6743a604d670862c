"""What a media file holds, read in process with PyAV."""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.video.reformatter import ColorPrimaries, ColorTrc

from core.jsontypes import JsonObject
from core.timecode import Clock, InvalidTimecode, frames_per_count, from_full_rate, timecode_of_samples
from core.vocabulary import HDR_TRANSFER_BY_CODE, HDR_TRANSFER_BY_NAME, HdrTransfer, MediaKind

from .errors import ProbeFailed

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
TIMECODE_RE = re.compile(r"^\d{2}:\d{2}:\d{2}[:;.]\d{2,3}$")
# Matrix coefficients by their ITU-T H.273 code, named as ffmpeg names them (PyAV's enum lacks most).
MATRIX_NAMES = {
    0: "gbr", 1: "bt709", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "ycgco", 9: "bt2020nc",
    10: "bt2020c", 11: "smpte2085", 12: "chroma-derived-nc", 13: "chroma-derived-c", 14: "ictcp",
}
# The ledger's probe JSON keeps an HDR picture's transfer by its short name ("pq", "hlg").
HDR_SHORT_NAMES: dict[HdrTransfer, str] = {transfer: short for short, transfer in HDR_TRANSFER_BY_NAME.items()}
# SMPTE 377M operational pattern labels: byte 13 is the item complexity (1-3), 0x10 marks OP-Atom.
MXF_PATTERNS = {"01": "op1", "02": "op2", "03": "op3", "10": "opatom"}
# Container tags worth keeping: who recorded it, when, and what a BWF recorder says about the take.
KEPT_TAGS = {
    "creation_time", "com.apple.quicktime.make", "com.apple.quicktime.model", "com.apple.quicktime.creationdate",
    "make", "model", "encoder", "encoded_by", "originator", "originator_reference", "origination_date",
    "origination_time", "description", "coding_history", "reel_name", "company_name", "product_name",
}


@dataclass(frozen=True)
class AudioTrack:
    """One audio stream."""

    index: int
    codec: str
    sample_rate: int
    channels: int
    language: str | None = None


@dataclass(frozen=True)
class ProbeResult:
    """The facts docfilm keeps about a media file."""

    kind: MediaKind
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
    # Kept in the ledger's probe JSON only:
    codec_profile: str | None = None
    bit_depth: int | None = None
    color_transfer: str | None = None  # e.g. bt709, smpte2084, arib-std-b67
    color_primaries: str | None = None
    color_matrix: str | None = None
    hdr: str | None = None  # "pq" or "hlg"
    mxf_pattern: str | None = None  # op1a … opatom
    bwf_time_reference: int | None = None  # samples since midnight, from a BWF bext chunk
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def fps_text(self) -> str | None:
        """The rate as "num/den", e.g. "25/1" or "30000/1001"."""
        return f"{self.fps.numerator}/{self.fps.denominator}" if self.fps else None

    @property
    def interlaced(self) -> bool:
        return self.field_order in INTERLACED_ORDERS.values()

    def to_json(self) -> JsonObject:
        d = asdict(self)
        d["fps"] = self.fps_text
        return d


def _hdr_short_name(transfer: Any) -> str | None:
    """"pq" or "hlg" for an HDR transfer characteristic (an ITU-T H.273 code, as PyAV gives it), else None."""
    known = HDR_TRANSFER_BY_CODE.get(int(transfer or 0))
    return HDR_SHORT_NAMES[known] if known is not None else None


def _snap_rate(rate: Fraction | None) -> Fraction | None:
    if not rate or rate <= 0:
        return None
    nearest = min(STANDARD_RATES, key=lambda std: abs(rate - std))
    return nearest if abs(rate - nearest) / nearest < Fraction(5, 1000) else rate


def _enum_name(enum: Any, value: int | None, unspecified: int = 2) -> str | None:
    if value is None or int(value) == unspecified:
        return None
    try:
        return str(enum(int(value)).name).lower().replace("_", "-")
    except ValueError:
        return str(int(value))


def _bit_depth(cc: Any) -> int | None:
    try:
        return int(cc.format.components[0].bits) if cc.format is not None else None
    except (AttributeError, IndexError, ValueError):
        return None


def _mxf_pattern(metadata: dict[str, str]) -> str | None:
    label = metadata.get("operational_pattern_ul")
    if not label:
        return None
    parts = label.replace(".", "")
    if len(parts) != 32:
        return None
    complexity, package = parts[24:26], parts[26:28]
    if complexity == "10":
        return "opatom"
    base = MXF_PATTERNS.get(complexity)
    letter = {"01": "a", "02": "b", "03": "c"}.get(package, "")
    return f"{base}{letter}" if base else None


def _kept_tags(container: Any) -> dict[str, str]:
    tags = {}
    for key, value in container.metadata.items():
        if key.lower() in KEPT_TAGS and value:
            tags[key.lower()] = str(value).strip()[:500]
    return tags


def _bwf_start(metadata: dict[str, str], sample_rate: int, rate: Fraction | None) -> tuple[int | None, str | None]:
    """The bext time reference (samples since midnight) and the timecode it means at `rate` (None: no rate)."""
    raw = metadata.get("time_reference")
    if raw is None or not sample_rate:
        return None, None
    try:
        samples = int(raw)
    except ValueError:
        return None, None
    if samples < 0:
        return None, None
    return samples, timecode_of_samples(samples, sample_rate, rate) if rate is not None else None


def _timecode_from_metadata(container: Any, fps: Fraction | None) -> str | None:
    """The start timecode a camera wrote (MOV tmcd, MXF, MPEG-TS), checked against the rate.

    Above 60 fps it is given at the rate timecode counts at (see core.timecode): a tmcd written at 120 fps
    reads as HH:MM:SS:FFF.
    """
    candidates: list[str] = []
    for meta in [container.metadata] + [s.metadata for s in container.streams]:
        value = meta.get("timecode")
        if value:
            candidates.append(value.strip())
    for tc in candidates:
        if not TIMECODE_RE.match(tc):
            continue
        if fps is None:
            return tc if len(tc) == 11 else None
        tc = tc.replace(".", ":")
        try:
            if frames_per_count(fps) > 1:
                return from_full_rate(tc, fps)
            Clock(fps, tc)
        except InvalidTimecode:
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


# Top-level box types a QuickTime/MP4 recording starts with; anything else is not such a file at all.
ISO_BOXES = {b"ftyp", b"wide", b"mdat", b"free", b"skip", b"moov", b"pnot", b"uuid", b"PICT", b"junk"}


def _looks_like_quicktime(path: Path | None) -> bool:
    if path is None:
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return True
    return len(head) == 8 and head[4:8] in ISO_BOXES


def _cause(exc: Exception, logs: list[Any], path: Path | None = None) -> str:
    """A reason a producer understands, with libav's own words after it."""
    said = [str(m[2]).strip() for m in logs if m and m[0] <= av.logging.ERROR]
    base = getattr(exc, "strerror", None) or str(exc)
    last = str(exc).partition("last error log: ")[2].strip()
    detail = "; ".join(dict.fromkeys(said + ([last] if last else [])))
    raw = f"{base} ({detail})" if detail else base
    for needle, plain in PLAIN_REASONS:
        if needle in raw or needle in str(exc):
            if needle == "moov atom not found" and not _looks_like_quicktime(path):
                # Chosen by the name (.mov, .mp4) but not even the start of such a file.
                plain = "not a media file: its name says QuickTime/MP4 but its bytes are not"
            return f"{plain} [{raw}]"
    return raw


def probe(path: Path, film_rate: Fraction | None = None) -> ProbeResult:
    """Open and decode the first frame of each kind of stream; raise ProbeFailed with a readable reason.

    Audio has no frame rate of its own: its length and start timecode (a BWF time reference, a timecode
    tag) are counted at `film_rate`, the rate of the film it is for. Without one, an audio file gets no
    frame count and no timecode (its time reference in samples is still kept).
    """
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
            raise ProbeFailed(_cause(exc, logs, path)) from exc
        except Exception as exc:  # a reason, never a traceback, for whatever else PyAV trips on
            log.debug("PyAV failed on %s", path, exc_info=True)
            raise ProbeFailed(f"cannot be opened as media: {exc}") from exc
        try:
            return _probe_open(container, path, logs, film_rate)
        except ProbeFailed:
            raise
        except av.FFmpegError as exc:
            raise ProbeFailed(_cause(exc, logs)) from exc
        except Exception as exc:
            log.debug("PyAV failed on %s", path, exc_info=True)
            raise ProbeFailed(f"cannot be read as media: {type(exc).__name__}: {exc}") from exc
        finally:
            container.close()


def _probe_open(container: Any, path: Path, logs: list[Any], film_rate: Fraction | None) -> ProbeResult:
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
        return _probe_audio(container, audios, tracks, logs, film_rate)
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
    # PyAV reports -180 for an upside-down picture (EXIF orientation 3); keep rotations in (-180, 180].
    rotation = int(getattr(first, "rotation", 0) or 0)
    rotation = 180 if rotation == -180 else rotation
    transfer = getattr(first, "color_trc", None) or cc.color_trc
    return ProbeResult(
        kind="still" if still else "video",
        container=fmt,
        duration_frames=None if still or fps is None else _duration_frames(container, v, fps),
        fps=fps,
        width=cc.width,
        height=cc.height,
        rotation=rotation,
        field_order=order or "progressive",
        video_codec=getattr(cc.codec, "canonical_name", None) or cc.name,
        pix_fmt=cc.pix_fmt,
        vfr=vfr,
        start_timecode=None if still else _timecode_from_metadata(container, fps),
        audio_tracks=tracks,
        codec_profile=v.profile,
        bit_depth=_bit_depth(cc),
        color_transfer=_enum_name(ColorTrc, transfer),
        color_primaries=_enum_name(ColorPrimaries, getattr(first, "color_primaries", None) or cc.color_primaries),
        color_matrix=MATRIX_NAMES.get(int(getattr(first, "colorspace", None) or cc.colorspace or 2)),
        hdr=_hdr_short_name(transfer),
        mxf_pattern=_mxf_pattern(container.metadata) if fmt == "mxf" else None,
        tags=_kept_tags(container),
    )


def _first_frame(container: Any, stream: Any, logs: list[Any]) -> Any:
    try:
        for frame in container.decode(stream):
            return frame
    except av.FFmpegError as exc:
        raise ProbeFailed(f"cannot decode {stream.codec_context.name} video: {_cause(exc, logs)}") from exc
    raise ProbeFailed(f"no decodable {stream.codec_context.name} video frame")


def _probe_audio(
    container: Any, audios: list[Any], tracks: list[AudioTrack], logs: list[Any], film_rate: Fraction | None
) -> ProbeResult:
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
    time_reference, bwf_tc = _bwf_start(container.metadata, a.codec_context.sample_rate or 0, film_rate)
    return ProbeResult(
        kind="audio",
        container=container.format.name,
        duration_frames=round(seconds * film_rate) if seconds is not None and film_rate is not None else None,
        fps=film_rate,
        audio_tracks=tracks,
        start_timecode=(_timecode_from_metadata(container, film_rate) if film_rate is not None else None) or bwf_tc,
        bwf_time_reference=time_reference,
        mxf_pattern=_mxf_pattern(container.metadata) if container.format.name == "mxf" else None,
        tags=_kept_tags(container),
    )
