"""Review proxies: one ffmpeg run per clip decodes once and writes proxy, poster, contact sheet and QC.

The graph (see proxy_stream):

    input (ffmpeg autorotates from the display matrix)
      → [bwdif, one frame per frame]   interlaced sources only
      → fps=<source rate>               constant frame rate: burnt-in timecode counts real frames, and a
                                        variable-rate source stays in sync (frames follow timestamps)
      → scale to fit (display aspect)
      → [tone map to SDR BT.709]        HDR (PQ, HLG) sources only: zscale + tonemap, at proxy size
      → yuv420p → setsar=1
      → split ─┬─ pad to the profile frame → split ─┬─ name, timecode, watermark → H.264/AAC MP4
               │                                    ├─ frame ~1 s in → poster JPEG
               │                                    └─ frames evenly spaced → tile → contact sheet JPEG
               └─ downscale to ~320x180 → blackdetect → freezedetect → print ─┐
    audio (first usable track, or all mixed) → asplit ─┬─ AAC in the proxy    ├─ null output
                                                       └─ silencedetect → ebur128 (true peak) → print ─┘

Decisions: the proxy frame is always profile.width × profile.height (960×540): portrait or odd-sized
pictures are fitted inside and padded with black, so every proxy, poster and contact-sheet cell has one
shape and the burnt-in text sits in the bars rather than over a narrow portrait picture. The video
detectors see the picture before padding (bars would count as black) and downscaled (freezedetect on a
full-size picture costs as much as a second decode). Rotation is left to ffmpeg's autorotate (which reads
the same display matrix PyAV reports as `rotation`); adding our own transpose would rotate twice. HDR is
tone-mapped after downscaling, where the float maths is cheap. Source metadata is not copied (phones
store GPS positions there).
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import ffmpeg
import opentimelineio.opentime as otime

from renders.profile import RENDERER_VERSION, RenderProfile
from renders.qc import QcFiles, QcRules, TimecodeClock, audio_detectors, measure, qc_flags, video_detectors
from renders.runner import ProgressCallback, RunResult, run_ffmpeg, temp_path
from renders.tools import InvalidSource, ProxyCheckFailed, ffmpeg_exe, font_file

log = logging.getLogger(__name__)

DEFAULT_TIMECODE = "00:00:00:00"
NAME_MAX_CHARS = 64
KINDS = ("video", "audio", "still")
# Transfer characteristics of HDR video (names as ffmpeg and zscale spell them), by their ISO/IEC 23091-2
# code points, which PyAV reports as ints.
HDR_TRANSFERS: dict[int, str] = {16: "smpte2084", 18: "arib-std-b67"}
# Linear light 1.0 is 100 cd/m² (SDR reference white) before the tone curve squeezes highlights.
HDR_NOMINAL_PEAK = 100
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
    kind: str = "video"
    color_transfer: str | None = None
    audio_streams: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        object.__setattr__(self, "display_name", unicodedata.normalize("NFC", self.display_name))
        object.__setattr__(self, "audio_streams", tuple(self.audio_streams))
        if not _ASSET_ID_SHAPE.fullmatch(self.asset_id):
            raise InvalidSource(f"asset id {self.asset_id!r} must be letters, digits, '_', '-' or '.'")
        if self.kind not in KINDS:
            raise InvalidSource(f"{self.asset_id}: kind {self.kind!r}, expected one of {', '.join(KINDS)}")
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

    @property
    def clock(self) -> TimecodeClock:
        """Source timecode of each frame of the proxy."""
        return TimecodeClock(self.timecode, self.timecode_rate)

    @property
    def hdr(self) -> bool:
        return self.color_transfer in HDR_TRANSFERS.values()


@dataclass
class ProxyResult:
    """A rendered proxy, its poster and contact sheet, with facts and QC measured on the same run."""

    asset_id: str
    proxy: Path
    poster: Path
    qc: dict[str, Any] = field(default_factory=dict)
    contact_sheet: Path | None = None


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
                transfer = HDR_TRANSFERS.get(int(videos[0].codec_context.color_trc or 0))
            streams = src.audio_streams or tuple(
                s.index
                for s in container.streams.audio
                if (s.codec_context.channels or 0) > 0 and (s.codec_context.sample_rate or 0) > 0
            )
    except (av.FFmpegError, OSError) as exc:
        log.debug("%s: PyAV cannot open %s (%s); ffmpeg will say why", src.asset_id, src.path, exc)
        return src
    return replace(src, color_transfer=transfer, audio_streams=streams if src.has_audio else ())


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


def burn_watermark(stream: Any, text: str, font: Path, *, fontsize: int, opacity: float) -> Any:
    """Translucent text across the middle of the picture, no box, so the picture stays readable under it."""
    return stream.filter(
        "drawtext",
        text=drawtext_safe(text),
        expansion="none",
        fontfile=str(font),
        fontsize=fontsize,
        fontcolor=f"white@{opacity:g}",
        borderw=max(1, fontsize // 24),
        bordercolor=f"black@{opacity:g}",
        x="(w-text_w)/2",
        y="(h-text_h)/2",
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


def text_sizes(profile: RenderProfile) -> tuple[int, int]:
    """(font size, margin) of burnt-in text for the profile frame."""
    return max(12, round(profile.height * 0.045)), max(4, round(profile.height * 0.03))


def burn_ins(stream: Any, src: ProxySource, profile: RenderProfile, font: Path | None, *, timecode: bool) -> Any:
    """The profile's burn-ins: name top left, running source timecode bottom centre, watermark across."""
    fontsize, margin = text_sizes(profile)
    if font is None:
        return stream
    if profile.burn_name:
        stream = burn_text(stream, src.display_name, font, x=str(margin), y=str(margin), fontsize=fontsize)
    if profile.burn_timecode and timecode:
        stream = burn_timecode(stream, src.timecode, src.timecode_rate, font, fontsize=fontsize, margin=margin)
    if profile.watermark_text:
        stream = burn_watermark(
            stream, profile.watermark_text, font, fontsize=max(16, profile.height // 8),
            opacity=profile.watermark_opacity,
        )  # fmt: skip
    return stream


def needs_font(profile: RenderProfile) -> bool:
    return profile.burn_name or profile.burn_timecode or bool(profile.watermark_text)


def tone_map_to_sdr(stream: Any, profile: RenderProfile) -> Any:
    """HDR (PQ or HLG, BT.2020) to SDR BT.709 limited range: linearise, convert primaries, tone curve, re-encode.

    Without this an HDR picture shown as SDR looks grey and washed out (measured on a BT.2020 HLG test
    pattern: 38 % of the saturation left, against 80 % with mobius).
    """
    return (
        stream.filter("zscale", t="linear", npl=HDR_NOMINAL_PEAK)
        .filter("format", "gbrpf32le")
        .filter("zscale", p="bt709")
        .filter("tonemap", tonemap=profile.tone_map, desat=0)
        .filter("zscale", t="bt709", m="bt709", r="tv")
    )


def fit_inside(stream: Any, profile: RenderProfile, *, hdr: bool = False) -> Any:
    """Scale to fit the profile frame by display aspect (SAR honoured), even sizes, square pixels."""
    w, h = profile.width, profile.height
    wider = f"gte(dar,{w}/{h})"
    stream = stream.filter(
        "scale",
        w=f"if({wider},{w},max(2,2*round({h}*dar/2)))",
        h=f"if({wider},max(2,2*round({w}/dar/2)),{h})",
        flags=profile.scale_flags,
    )
    if hdr:
        stream = tone_map_to_sdr(stream, profile)
    return stream.filter("format", profile.pix_fmt).filter("setsar", 1)


def pad_to_frame(stream: Any, profile: RenderProfile) -> Any:
    """Centre the fitted picture in the profile frame (letterbox or pillarbox)."""
    return stream.filter("pad", profile.width, profile.height, "(ow-iw)/2", "(oh-ih)/2", color="black")


def fit_to_frame(stream: Any, profile: RenderProfile, *, hdr: bool = False) -> Any:
    """Scale to fit the profile frame by display aspect, then pad to it."""
    return pad_to_frame(fit_inside(stream, profile, hdr=hdr), profile)


def poster_frame_index(src: ProxySource) -> int:
    """Frame the poster shows: about 1 s in, or the middle of clips shorter than 2 s."""
    if src.duration_frames <= 0:
        return 0
    return min(round(src.fps), src.duration_frames // 2)


def contact_sheet_frames(src: ProxySource, cells: int) -> list[int]:
    """Frames a contact sheet shows: the middles of `cells` equal parts of the clip, each frame once.

    A clip shorter than `cells` frames shows each of its frames once (the rest of the sheet stays black);
    a clip of unknown length shows one frame a second from the start.
    """
    if src.duration_frames <= 0:
        return [i * max(1, round(src.fps)) for i in range(cells)]
    total = src.duration_frames
    return sorted({min(total - 1, math.floor((2 * i + 1) * total / (2 * cells))) for i in range(cells)})


def poster_branch(stream: Any, src: ProxySource, profile: RenderProfile) -> Any:
    # image2 with update=1 rewrites the file for every frame, so the poster ends up as frame K, or the last
    # frame when the clip is shorter than its recorded duration (a select that never fires would fail
    # the whole run).
    return stream.filter("trim", end_frame=poster_frame_index(src) + 1).filter(
        "scale", profile.poster_width, profile.poster_height, flags=profile.scale_flags, out_range="full"
    )


def contact_sheet_branch(stream: Any, frames: list[int], profile: RenderProfile) -> Any:
    cell_w, cell_h = profile.contact_cell_size
    picked = "+".join(f"eq(n,{n})" for n in frames)
    return (
        stream.filter("select", picked)
        .filter("scale", cell_w, cell_h, flags=profile.scale_flags, out_range="full")
        # tile writes a partly filled sheet when the input ends early, so short clips still get one.
        .filter("tile", layout=f"{profile.contact_sheet_columns}x{profile.contact_sheet_rows}")
    )


def jpeg_options(profile: RenderProfile) -> dict[str, Any]:
    return {"f": "image2", "c:v": "mjpeg", "q:v": profile.poster_quality, "update": 1}


def audio_source(source: Any, src: ProxySource, profile: RenderProfile) -> Any | None:
    """The audio the proxy carries and QC measures: first usable track, or every usable track summed."""
    if not src.has_audio:
        return None
    streams = src.audio_streams
    if profile.audio_tracks == "mix" and len(streams) > 1:
        # normalize=0: tracks are summed as a mixer would, not each turned down by 1/N.
        return ffmpeg.filter([source[str(i)] for i in streams], "amix", inputs=len(streams), normalize=0,
                             duration="longest")
    return source[str(streams[0])] if streams else source["a:0"]


def proxy_stream(
    src: ProxySource,
    profile: RenderProfile,
    out_path: Path,
    font: Path | None,
    poster_path: Path | None = None,
    *,
    contact_sheet_path: Path | None = None,
    qc_files: QcFiles | None = None,
) -> Any:
    """The ffmpeg-python graph writing proxy, poster (and contact sheet) to their temp names (temp_path).

    `poster_path` defaults to `out_path` with a .jpg suffix. With `qc_files`, the detectors run on branches
    of the same decode and print to those files (see renders.qc). `font` may be None only when the profile
    burns nothing in.
    """
    if font is None and needs_font(profile):
        raise ValueError("a font is needed to burn in the name, timecode or watermark")
    poster_path = poster_path or out_path.with_suffix(".jpg")
    source = ffmpeg.input(str(src.path.absolute()))

    video = source["v:0"]
    if src.interlaced:
        video = video.filter(profile.deinterlace_filter, mode="send_frame", parity="auto", deint="all")
    video = video.filter("fps", fps=_rate(src.fps))
    fitted = fit_inside(video, profile, hdr=src.hdr)
    qc_video = None
    if qc_files is not None and qc_files.video is not None:
        fitted_split = fitted.split()
        fitted, qc_video = fitted_split[0], video_detectors(fitted_split[1], profile.qc, qc_files.video)
    branches = pad_to_frame(fitted, profile).split()

    proxy_video = burn_ins(branches[0], src, profile, font, timecode=True)
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
    audio = audio_source(source, src, profile)
    qc_audio = None
    if audio is not None:
        if qc_files is not None and qc_files.silence is not None and qc_files.loudness is not None:
            audio_split = audio.asplit()
            audio = audio_split[0]
            qc_audio = audio_detectors(audio_split[1], profile.qc, qc_files.silence, qc_files.loudness)
        proxy_streams.append(audio)
        proxy_options.update(
            {"c:a": profile.audio_codec, "b:a": profile.audio_bitrate, "ar": profile.audio_rate,
             "ac": profile.audio_channels}
        )  # fmt: skip
    outputs = [ffmpeg.output(*proxy_streams, str(temp_path(out_path).absolute()), **proxy_options)]
    outputs.append(
        ffmpeg.output(
            poster_branch(branches[1], src, profile), str(temp_path(poster_path).absolute()), **jpeg_options(profile)
        )
    )
    if contact_sheet_path is not None:
        sheet = contact_sheet_branch(branches[2], contact_sheet_frames(src, profile.contact_sheet_cells), profile)
        outputs.append(ffmpeg.output(sheet, str(temp_path(contact_sheet_path).absolute()), **jpeg_options(profile)))
    detectors = [s for s in (qc_video, qc_audio) if s is not None]
    if detectors:
        outputs.append(ffmpeg.output(*detectors, "-", f="null"))
    return ffmpeg.merge_outputs(*outputs)


def picture_facts(path: Path) -> dict[str, Any]:
    """Facts PyAV reads from a rendered picture or video (first frame decoded for its rotation)."""
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
            "color_transfer": int(video.codec_context.color_trc or 0),
            "audio": None
            if audio is None
            else {
                "codec": audio.codec_context.name,
                "sample_rate": audio.codec_context.sample_rate,
                "channels": audio.codec_context.channels,
            },
        }


def _check_outputs(
    src: ProxySource, profile: RenderProfile, proxy_tmp: Path, poster_tmp: Path, sheet_tmp: Path | None
) -> dict[str, Any]:
    """Probe the temp outputs; raise ProxyCheckFailed unless they are what the profile promises."""
    try:
        facts = picture_facts(proxy_tmp)
        poster = picture_facts(poster_tmp)
        sheet = picture_facts(sheet_tmp) if sheet_tmp is not None else None
    except (av.FFmpegError, StopIteration, IndexError) as exc:
        raise ProxyCheckFailed(f"{src.asset_id}: rendered proxy or its pictures cannot be read back: {exc}") from exc
    problems = []
    if (facts["width"], facts["height"]) != (profile.width, profile.height):
        problems.append(f"frame {facts['width']}x{facts['height']}, expected {profile.width}x{profile.height}")
    if facts["rotation"] != 0:
        problems.append(f"rotation {facts['rotation']}, expected 0 (already applied)")
    if facts["duration_frames"] <= 0:
        problems.append("no frames")
    if facts["timecode"] != src.timecode:
        problems.append(f"timecode {facts['timecode']!r}, expected {src.timecode!r}")
    if src.hdr and facts["color_transfer"] in HDR_TRANSFERS:
        problems.append(f"still tagged HDR ({HDR_TRANSFERS[facts['color_transfer']]}) after tone mapping")
    if src.has_audio and facts["audio"] is None:
        problems.append("no audio, though the source has some")
    if poster["width"] != profile.poster_width:
        problems.append(f"poster {poster['width']} wide, expected {profile.poster_width}")
    if sheet is not None and sheet["width"] != profile.contact_cell_size[0] * profile.contact_sheet_columns:
        problems.append(f"contact sheet {sheet['width']} wide")
    if problems:
        raise ProxyCheckFailed(f"{src.asset_id}: proxy is not as promised: " + "; ".join(problems))
    shown = min(poster_frame_index(src), facts["duration_frames"] - 1)
    facts["poster"] = {"width": poster["width"], "height": poster["height"], "frame": shown}
    return facts


def contact_sheet_record(src: ProxySource, profile: RenderProfile, sheet: Path, frames_out: int) -> dict[str, Any]:
    """What the contact sheet shows, cell by cell (left to right, top to bottom)."""
    frames = [n for n in contact_sheet_frames(src, profile.contact_sheet_cells) if n < max(1, frames_out)]
    cell_w, cell_h = profile.contact_cell_size
    return {
        "contact_sheet": str(sheet),
        "contact_sheet_layout": {
            "columns": profile.contact_sheet_columns,
            "rows": profile.contact_sheet_rows,
            "cell_width": cell_w,
            "cell_height": cell_h,
        },
        "contact_sheet_cells": [{"frame": n, "timecode": src.clock.at(n)} for n in frames],
    }


def finish_qc(
    qc: dict[str, Any], files: QcFiles | None, src: ProxySource, profile: RenderProfile, frames: int,
    rules: QcRules,
) -> dict[str, Any]:
    """Add the measurements, flags and rules of one finished run to its QC record."""
    if files is not None:
        qc.update(measure(files, src.fps, frames, src.clock, profile.qc))
    else:
        qc.update({"black": [], "frozen": [], "silent": [], "loudness": None})
    qc["rules"] = rules.to_json()
    qc["flags"] = qc_flags(qc, rules)
    return qc


def lock_path(out_dir: Path, src: ProxySource) -> Path:
    """The lock a render of `src` holds while it writes into `out_dir` (see renders.runner.output_lock)."""
    return out_dir / f".{src.asset_id}.lock"


def render_proxy(
    src: ProxySource,
    profile: RenderProfile,
    out_dir: Path,
    timeout_s: float | None = None,
    on_progress: ProgressCallback | None = None,
    rules: QcRules | None = None,
) -> ProxyResult:
    """Render `<asset_id>.mp4`, `.jpg` (poster), `.sheet.jpg` and QC from one decode, checked before commit.

    Raises FfmpegFailed (unreadable or undecodable source), RenderTimeout, ProxyCheckFailed, QcUnreadable;
    in every failure no final file is created or replaced and no temp file is left.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    rules = rules or QcRules.from_settings()
    proxy = out_dir / f"{src.asset_id}.mp4"
    poster = out_dir / f"{src.asset_id}.jpg"
    sheet = out_dir / f"{src.asset_id}.sheet.jpg" if profile.contact_sheet else None
    files = QcFiles.beside(out_dir, src.asset_id, video=True, audio=src.has_audio) if profile.qc.enabled else None
    font = font_file() if needs_font(profile) else None
    graph = proxy_stream(src, profile, proxy, font, poster_path=poster, contact_sheet_path=sheet, qc_files=files)
    args = graph.compile(cmd=ffmpeg_exe())

    qc: dict[str, Any] = {"kind": "video"}

    def validate() -> None:
        # Runs after ffmpeg succeeded and before anything is renamed: a QC file that cannot be read fails
        # the render like a bad proxy would, so a "done" proxy always has its measurements.
        sheet_tmp = temp_path(sheet) if sheet else None
        qc.update(_check_outputs(src, profile, temp_path(proxy), temp_path(poster), sheet_tmp))
        finish_qc(qc, files, src, profile, qc["duration_frames"], rules)

    outputs = [(temp_path(poster), poster)]
    if sheet is not None:
        outputs.append((temp_path(sheet), sheet))
    outputs.append((temp_path(proxy), proxy))  # the proxy last: its presence is what marks the render done
    result: RunResult = run_ffmpeg(
        args, outputs, timeout_s, on_progress, label=src.asset_id, validate=validate,
        lock=lock_path(out_dir, src), scratch=files.paths() if files else (),
    )  # fmt: skip
    if sheet is not None:
        qc.update(contact_sheet_record(src, profile, sheet, qc["duration_frames"]))
    return ProxyResult(
        asset_id=src.asset_id, proxy=proxy, poster=poster, contact_sheet=sheet,
        qc=run_record(qc, src, profile, result, hdr=src.hdr),
    )  # fmt: skip


def run_record(
    qc: dict[str, Any], src: ProxySource, profile: RenderProfile, result: RunResult, *, hdr: bool = False
) -> dict[str, Any]:
    """The run's own facts added to a QC record: decode errors, timing, profile, what was converted."""
    errors = result.stderr_lines
    if errors:
        log.warning(
            "%s: ffmpeg reported %d error line(s) while rendering, first: %s", src.asset_id, len(errors), errors[0]
        )
    qc.update(
        {
            "decode_errors": errors[:20],
            "decode_error_count": len(errors),
            "source_duration_frames": src.duration_frames,
            "render_seconds": round(result.elapsed_s, 3),
            "profile_hash": profile.profile_hash(),
            "tone_mapped_from": src.color_transfer if hdr else None,
            "audio_streams": list(src.audio_streams) if src.has_audio else [],
            "audio_tracks": profile.audio_tracks,
        }
    )
    return qc
