"""Review proxies: one ffmpeg run per asset makes the H.264 proxy and its poster JPEG from one decode.

The graph (see proxy_stream):

    input (ffmpeg autorotates from the display matrix)
      → [bwdif, one frame per frame]  interlaced sources only
      → fps=<source rate>              constant frame rate, so burnt-in timecode counts real frames
      → scale to fit (display aspect) → yuv420p → setsar=1 → pad to the profile frame (letter/pillarbox)
      → split ─┬─ [0] name + timecode drawtext → H.264/AAC MP4 (faststart, tmcd track)
               ├─ [1] frames up to the poster frame → scale to poster_width → JPEG (last one kept)
               └─ [2…] room for QC branches (blackdetect/freezedetect on a downscaled copy)

Decisions: the proxy frame is always profile.width × profile.height (960×540): portrait or odd-sized
pictures are fitted inside and padded with black, so every proxy, poster and contact-sheet cell has one
shape and the burnt-in text sits in the bars rather than over a narrow portrait picture. Rotation is left to
ffmpeg's autorotate (which reads the same display matrix PyAV reports as `rotation`); adding our own
transpose would rotate twice. Source metadata is not copied (phones store GPS positions there).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import ffmpeg
import opentimelineio.opentime as otime

from renders.profile import RENDERER_VERSION, RenderProfile
from renders.runner import ProgressCallback, RunResult, run_ffmpeg, temp_path
from renders.tools import InvalidSource, ProxyCheckFailed, ffmpeg_exe, font_file

log = logging.getLogger(__name__)

DEFAULT_TIMECODE = "00:00:00:00"
NAME_MAX_CHARS = 64
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
    """What the renderer needs to know about one master clip (from the ledger's probe)."""

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

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        object.__setattr__(self, "display_name", unicodedata.normalize("NFC", self.display_name))
        if not _ASSET_ID_SHAPE.fullmatch(self.asset_id):
            raise InvalidSource(f"asset id {self.asset_id!r} must be letters, digits, '_', '-' or '.'")
        if self.fps_num <= 0 or self.fps_den <= 0:
            raise InvalidSource(f"{self.asset_id}: frame rate {self.fps_num}/{self.fps_den} must be positive")
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


@dataclass
class ProxyResult:
    """A rendered proxy and its poster, with facts measured on the output."""

    asset_id: str
    proxy: Path
    poster: Path
    qc: dict[str, Any] = field(default_factory=dict)


def _rate(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


def drawtext_safe(text: str, max_chars: int = NAME_MAX_CHARS) -> str:
    """Text as drawtext should show it: NFC, control characters as spaces, one line, ellipsised if long."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in text)
    text = " ".join(text.split())
    return text if len(text) <= max_chars else text[: max_chars - 1].rstrip() + "…"


def burn_text(stream: Any, text: str, font: Path, *, x: str, y: str, fontsize: int) -> Any:
    """Draw `text` literally (no %{…} expansion) in white on a translucent box.

    ffmpeg-python escapes the value for the two filtergraph levels (quotes, colons, backslashes, commas,
    brackets, semicolons); `expansion=none` removes drawtext's own third level, so `%` and `\\` stay literal.
    `ffmpeg.drawtext` is not used because it adds that third escaping level regardless of `expansion`.
    """
    return stream.filter(
        "drawtext",
        text=drawtext_safe(text),
        expansion="none",
        fontfile=str(font),
        fontsize=fontsize,
        fontcolor="white",
        box=1,
        boxcolor="black@0.55",
        boxborderw=max(2, fontsize // 4),
        x=x,
        y=y,
    )


def burn_timecode(stream: Any, timecode: str, rate: Fraction, font: Path, *, fontsize: int, margin: int) -> Any:
    """Running timecode from `timecode` at `rate`, centred at the bottom."""
    return stream.filter(
        "drawtext",
        timecode=timecode,
        timecode_rate=_rate(rate),
        fontfile=str(font),
        fontsize=fontsize,
        fontcolor="white",
        box=1,
        boxcolor="black@0.55",
        boxborderw=max(2, fontsize // 4),
        x="(w-text_w)/2",
        y=f"h-text_h-{margin}",
    )


def fit_to_frame(stream: Any, profile: RenderProfile) -> Any:
    """Scale to fit the profile frame by display aspect (SAR honoured), even sizes, then pad to the frame."""
    w, h = profile.width, profile.height
    wider = f"gte(dar,{w}/{h})"
    return (
        stream.filter(
            "scale",
            w=f"if({wider},{w},max(2,2*round({h}*dar/2)))",
            h=f"if({wider},max(2,2*round({w}/dar/2)),{h})",
            flags=profile.scale_flags,
        )
        .filter("format", profile.pix_fmt)
        .filter("setsar", 1)
        .filter("pad", w, h, "(ow-iw)/2", "(oh-ih)/2", color="black")
    )


def poster_frame_index(src: ProxySource) -> int:
    """Frame the poster shows: about 1 s in, or the middle of clips shorter than 2 s."""
    if src.duration_frames <= 0:
        return 0
    return min(round(src.fps), src.duration_frames // 2)


def proxy_stream(
    src: ProxySource,
    profile: RenderProfile,
    out_path: Path,
    font: Path | None,
    poster_path: Path | None = None,
) -> Any:
    """The ffmpeg-python graph writing the proxy and its poster to their temp names (see temp_path).

    `poster_path` defaults to `out_path` with a .jpg suffix. `font` may be None only when the profile
    burns nothing in.
    """
    if font is None and (profile.burn_name or profile.burn_timecode):
        raise ValueError("a font is needed to burn in the name or timecode")
    poster_path = poster_path or out_path.with_suffix(".jpg")
    source = ffmpeg.input(str(src.path.absolute()))

    video = source["v:0"]
    if src.interlaced:
        video = video.filter(profile.deinterlace_filter, mode="send_frame", parity="auto", deint="all")
    video = video.filter("fps", fps=_rate(src.fps))
    video = fit_to_frame(video, profile)
    branches = video.split()

    proxy_video = branches[0]
    fontsize = max(12, round(profile.height * 0.045))
    margin = max(4, round(profile.height * 0.03))
    if profile.burn_name and font is not None:
        proxy_video = burn_text(proxy_video, src.display_name, font, x=str(margin), y=str(margin), fontsize=fontsize)
    if profile.burn_timecode and font is not None:
        proxy_video = burn_timecode(
            proxy_video, src.timecode, src.timecode_rate, font, fontsize=fontsize, margin=margin
        )

    proxy_streams = [proxy_video]
    proxy_options: dict[str, Any] = {
        "f": "mp4",
        "c:v": profile.video_codec,
        "preset": profile.preset,
        "crf": profile.crf,
        "profile:v": profile.h264_profile,
        "pix_fmt": profile.pix_fmt,
        "g": profile.gop_frames(src.fps),
        "movflags": "+faststart",
        "timecode": src.timecode,
        "map_metadata": -1,
        "metadata": f"title={src.display_name}",
        "metadata:g": f"comment=docfilm {RENDERER_VERSION} {profile.name} {profile.profile_hash()}",
        # ffmpeg >= 7 drops the display matrix after autorotating; older ones need the tag zeroed.
        "metadata:s:v:0": "rotate=0",
    }
    if src.has_audio:
        proxy_streams.append(source["a:0"])
        proxy_options.update(
            {
                "c:a": profile.audio_codec,
                "b:a": profile.audio_bitrate,
                "ar": profile.audio_rate,
                "ac": profile.audio_channels,
            }
        )
    proxy_out = ffmpeg.output(*proxy_streams, str(temp_path(out_path).absolute()), **proxy_options)

    poster_video = (
        branches[1]
        # image2 with update=1 rewrites the file for every frame, so the poster ends up as frame K, or the
        # last frame when the clip is shorter than its recorded duration (a select that never fires
        # would fail the whole run).
        .filter("trim", end_frame=poster_frame_index(src) + 1)
        .filter("scale", profile.poster_width, profile.poster_height, flags=profile.scale_flags, out_range="full")
    )
    poster_out = ffmpeg.output(
        poster_video,
        str(temp_path(poster_path).absolute()),
        **{"f": "image2", "c:v": "mjpeg", "q:v": profile.poster_quality, "update": 1},
    )
    return ffmpeg.merge_outputs(proxy_out, poster_out)


def _video_facts(path: Path) -> dict[str, Any]:
    """Facts PyAV reads from a rendered file (first frame decoded for its rotation)."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        rate = video.average_rate or video.guessed_rate
        frames = video.frames
        if not frames and video.duration is not None and rate is not None and video.time_base is not None:
            frames = round(video.duration * video.time_base * rate)
        first = next(container.decode(video=0))
        timecode = video.metadata.get("timecode") or next(
            (s.metadata["timecode"] for s in container.streams if "timecode" in s.metadata), None
        )
        audio = container.streams.audio[0] if container.streams.audio else None
        return {
            "width": first.width,
            "height": first.height,
            "fps": _rate(Fraction(rate)) if rate else None,
            "duration_frames": int(frames or 0),
            "rotation": int(first.rotation or 0),
            "timecode": timecode,
            "audio": None
            if audio is None
            else {
                "codec": audio.codec_context.name,
                "sample_rate": audio.codec_context.sample_rate,
                "channels": audio.codec_context.channels,
            },
        }


def _check_outputs(src: ProxySource, profile: RenderProfile, proxy_tmp: Path, poster_tmp: Path) -> dict[str, Any]:
    """Probe the temp outputs; raise ProxyCheckFailed unless they are what the profile promises."""
    try:
        facts = _video_facts(proxy_tmp)
        poster = _video_facts(poster_tmp)
    except (av.FFmpegError, StopIteration, IndexError) as exc:
        raise ProxyCheckFailed(f"{src.asset_id}: rendered proxy or poster cannot be read back: {exc}") from exc
    problems = []
    if (facts["width"], facts["height"]) != (profile.width, profile.height):
        problems.append(f"frame {facts['width']}x{facts['height']}, expected {profile.width}x{profile.height}")
    if facts["rotation"] != 0:
        problems.append(f"rotation {facts['rotation']}, expected 0 (already applied)")
    if facts["duration_frames"] <= 0:
        problems.append("no frames")
    if facts["timecode"] != src.timecode:
        problems.append(f"timecode {facts['timecode']!r}, expected {src.timecode!r}")
    if poster["width"] != profile.poster_width:
        problems.append(f"poster {poster['width']} wide, expected {profile.poster_width}")
    if problems:
        raise ProxyCheckFailed(f"{src.asset_id}: proxy is not as promised: " + "; ".join(problems))
    shown = min(poster_frame_index(src), facts["duration_frames"] - 1)
    facts["poster"] = {"width": poster["width"], "height": poster["height"], "frame": shown}
    return facts


def render_proxy(
    src: ProxySource,
    profile: RenderProfile,
    out_dir: Path,
    timeout_s: float | None = None,
    on_progress: ProgressCallback | None = None,
) -> ProxyResult:
    """Render `out_dir/<asset_id>.mp4` and `out_dir/<asset_id>.jpg` in one ffmpeg run, checked before commit.

    Raises FfmpegFailed (unreadable or undecodable source), RenderTimeout, ProxyCheckFailed; in every
    failure neither final file is created or replaced and no temp file is left.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    proxy = out_dir / f"{src.asset_id}.mp4"
    poster = out_dir / f"{src.asset_id}.jpg"
    font = font_file() if (profile.burn_name or profile.burn_timecode) else None
    args = proxy_stream(src, profile, proxy, font, poster_path=poster).compile(cmd=ffmpeg_exe())

    facts: dict[str, Any] = {}

    def validate() -> None:
        facts.update(_check_outputs(src, profile, temp_path(proxy), temp_path(poster)))

    result: RunResult = run_ffmpeg(
        args,
        # The proxy last: its presence is what marks the render as done.
        [(temp_path(poster), poster), (temp_path(proxy), proxy)],
        timeout_s,
        on_progress,
        label=src.asset_id,
        validate=validate,
    )
    errors = result.stderr_lines
    qc = {
        **facts,
        "decode_errors": errors[:20],
        "decode_error_count": len(errors),
        "source_duration_frames": src.duration_frames,
        "render_seconds": round(result.elapsed_s, 3),
        "profile_hash": profile.profile_hash(),
    }
    if errors:
        log.warning(
            "%s: ffmpeg reported %d error line(s) while rendering, first: %s", src.asset_id, len(errors), errors[0]
        )
    return ProxyResult(asset_id=src.asset_id, proxy=proxy, poster=poster, qc=qc)
