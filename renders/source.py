"""The master as the renderer sees it: ProxySource (from the ledger's probe), its timecode, and a PyAV look."""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av

from core.timecode import DEFAULT_TIMECODE, Clock, InvalidTimecode, frames_per_count, review_rate
from core.vocabulary import HDR_TRANSFER_BY_CODE, HDR_TRANSFERS, MEDIA_KINDS, HdrTransfer, MediaKind
from renders.errors import InvalidSource

log = logging.getLogger(__name__)

_ASSET_ID_SHAPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class ProxySource:
    """What the renderer needs to know about one master (from the ledger's probe).

    `kind` is video, audio or still. For audio, `fps` is the rate its duration is counted at (the film's).
    Above 60 fps the proxy runs at `proxy_fps`, the rate its timecode counts at (see core.timecode), and
    `clock`, poster, contact sheet and QC count the proxy's frames.
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
        try:
            self.clock  # noqa: B018  (built to check the start timecode against the rate)
        except InvalidTimecode as exc:
            raise InvalidSource(f"{self.asset_id}: start {exc}") from exc

    @property
    def fps(self) -> Fraction:
        """Source frame rate as an exact fraction."""
        return Fraction(self.fps_num, self.fps_den)

    @property
    def timecode(self) -> str:
        """Start timecode to burn in and write: the source's, or 00:00:00:00 when it has none."""
        return self.start_timecode or DEFAULT_TIMECODE

    @property
    def proxy_fps(self) -> Fraction:
        """The proxy's constant rate: the source's up to 60 fps; above, the rate timecode counts at (120 → 60).

        A review proxy is for watching and for naming frames: a browser shows no more than 60 frames a
        second on most screens, and SMPTE timecode numbers no more than 60. The frames in between are
        dropped (the fps filter keeps the one nearest each output time); notes still name source frames.
        """
        return review_rate(self.fps)

    @property
    def proxy_frames(self) -> int:
        """How many frames the proxy of a clip of `duration_frames` has (0 when unknown)."""
        return self.duration_frames // frames_per_count(self.fps)

    @property
    def clock(self) -> Clock:
        """Source timecode of each frame of the proxy."""
        return Clock(self.proxy_fps, self.timecode)

    @property
    def timecode_rate(self) -> Fraction:
        """Rate the start timecode counts at (the drawtext and tmcd rate)."""
        return self.clock.rate

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
