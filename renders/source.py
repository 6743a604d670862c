"""The master as the renderer sees it: ProxySource (from the ledger's probe), its timecode, and a PyAV look."""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import opentimelineio.opentime as otime

from core.vocabulary import HDR_TRANSFER_BY_CODE, HDR_TRANSFERS, MEDIA_KINDS, HdrTransfer, MediaKind
from renders.errors import InvalidSource
from renders.qc import TimecodeClock

log = logging.getLogger(__name__)

DEFAULT_TIMECODE = "00:00:00:00"
_NTSC_RATES = frozenset(Fraction(n * 1000, 1001) for n in (24, 30, 48, 60, 120))
_TIMECODE_SHAPE = re.compile(r"\d{2}:\d{2}:\d{2}[:;]\d{2,3}")
_ASSET_ID_SHAPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def timecode_rate(fps: Fraction, drop_frame: bool = False) -> Fraction:
    """Rate timecode counts at: the source rate if it is integer or NTSC, else rounded (as ffmpeg does)."""
    nominal = round(fps)
    if drop_frame and nominal in (30, 60):  # SMPTE drop-frame exists only at 29.97 and 59.94
        return Fraction(nominal * 1000, 1001)
    if fps.denominator == 1 or fps in _NTSC_RATES:
        return fps
    return Fraction(max(1, nominal))


def rate_text(value: Fraction) -> str:
    """A rate as ffmpeg and the QC record write it: "num/den"."""
    return f"{value.numerator}/{value.denominator}"


def _check_timecode(timecode: str, rate: Fraction, asset_id: str) -> None:
    if not _TIMECODE_SHAPE.fullmatch(timecode):
        raise InvalidSource(f"{asset_id}: start timecode {timecode!r} is not HH:MM:SS:FF or HH:MM:SS;FF")
    if otime.RationalTime.is_valid_timecode_rate(float(rate)):
        try:
            otime.from_timecode(timecode, float(rate))
        except ValueError as exc:
            raise InvalidSource(f"{asset_id}: start timecode {timecode!r} at {rate} fps: {exc}") from exc


@dataclass(frozen=True)
class ProxySource:
    """What the renderer needs to know about one master (from the ledger's probe).

    `kind` is video, audio or still. For audio, `fps` is the rate its duration is counted at (the film's).
    `color_transfer` names an HDR transfer ("smpte2084", "arib-std-b67") to tone-map, None for SDR.
    `audio_streams` are the absolute indexes of the usable audio streams; empty means "the first audio
    stream" when `has_audio`. When the ledger does not know these, `inspect_source` reads them.
    """

    asset_id: str
    path: Path
    display_name: str
    fps_num: int
    fps_den: int
    width: int
    height: int
    rotation: int
    interlaced: bool
    start_timecode: str | None
    has_audio: bool
    duration_frames: int
    kind: MediaKind = "video"
    color_transfer: HdrTransfer | None = None
    audio_streams: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        object.__setattr__(self, "display_name", unicodedata.normalize("NFC", self.display_name))
        object.__setattr__(self, "audio_streams", tuple(self.audio_streams))
        if not _ASSET_ID_SHAPE.fullmatch(self.asset_id):
            raise InvalidSource(f"asset id {self.asset_id!r} must be letters, digits, '_', '-' or '.'")
        if self.kind not in MEDIA_KINDS:
            raise InvalidSource(f"{self.asset_id}: kind {self.kind!r}, expected one of {', '.join(MEDIA_KINDS)}")
        if self.fps_num <= 0 or self.fps_den <= 0:
            raise InvalidSource(f"{self.asset_id}: frame rate {self.fps_num}/{self.fps_den} must be positive")
        if self.color_transfer is not None and self.color_transfer not in HDR_TRANSFERS:
            raise InvalidSource(
                f"{self.asset_id}: color transfer {self.color_transfer!r}, expected one of {', '.join(HDR_TRANSFERS)}"
                " or none (SDR)"
            )
        if self.start_timecode is not None:
            _check_timecode(self.start_timecode, self.timecode_rate, self.asset_id)

    @property
    def fps(self) -> Fraction:
        """Source frame rate as an exact fraction."""
        return Fraction(self.fps_num, self.fps_den)

    @property
    def timecode(self) -> str:
        """Start timecode to burn in and write: the source's, or 00:00:00:00 when it has none."""
        return self.start_timecode or DEFAULT_TIMECODE

    @property
    def timecode_rate(self) -> Fraction:
        """Rate the start timecode counts at."""
        return timecode_rate(self.fps, drop_frame=";" in (self.start_timecode or ""))

    @property
    def clock(self) -> TimecodeClock:
        """Source timecode of each frame of the proxy."""
        return TimecodeClock(self.timecode, self.timecode_rate)

    @property
    def hdr(self) -> bool:
        return self.color_transfer in HDR_TRANSFERS


def inspect_source(src: ProxySource) -> ProxySource:
    """Fill what the ledger may not hold (HDR transfer, usable audio streams) from a PyAV look (~ms).

    Only regular files are opened (opening a FIFO or a device would block this process, where ffmpeg's
    timeout cannot reach); a file PyAV cannot open is returned unchanged: ffmpeg's own error is the
    better reason.
    """
    if not src.path.is_file():
        return src
    try:
        with av.open(str(src.path)) as container:
            transfer = src.color_transfer
            videos = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
            if transfer is None and videos:
                transfer = HDR_TRANSFER_BY_CODE.get(int(videos[0].codec_context.color_trc or 0))
            streams = src.audio_streams or tuple(
                s.index
                for s in container.streams.audio
                if (s.codec_context.channels or 0) > 0 and (s.codec_context.sample_rate or 0) > 0
            )
    except (av.FFmpegError, OSError) as exc:
        log.debug("%s: PyAV cannot open %s (%s); ffmpeg will say why", src.asset_id, src.path, exc)
        return src
    return replace(src, color_transfer=transfer, audio_streams=streams if src.has_audio else ())
