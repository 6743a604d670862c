"""Review proxies: one ffmpeg run per clip decodes once and writes proxy, poster, contact sheet and QC.

The graph (see proxy_stream):

    input (ffmpeg autorotates from the display matrix)
      → [bwdif, one frame per frame]   interlaced sources only
      → fps=<source rate, ≤ 60>         constant frame rate: burnt-in timecode counts real frames, and a
                                        variable-rate source stays in sync (frames follow timestamps);
                                        above 60 fps the rate timecode counts at (120 → 60, 100 → 50,
                                        240 → 60; see ProxySource.proxy_fps and core.timecode)
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
from pathlib import Path
from typing import Any

import ffmpeg

from renders.audio import audio_source
from renders.burnin import burn_ins, needs_font
from renders.check import check_outputs
from renders.flags import QcRules
from renders.measurements import Measurements
from renders.outcome import OutputFacts, ProxyResult, contact_sheet_record, lock_path, qc_record
from renders.picture import (
    at_proxy_rate,
    contact_sheet_branch,
    contact_sheet_frames,
    fit_inside,
    jpeg_options,
    pad_to_frame,
    poster_branch,
)
from renders.profile import RENDERER_VERSION, RenderProfile
from renders.qc import QcFiles, audio_detectors, measure, video_detectors
from renders.runner import ProgressCallback, RunResult, run_ffmpeg, temp_path
from renders.settings import RendersSettings
from renders.source import ProxySource
from renders.tools import ffmpeg_exe, font_file

log = logging.getLogger(__name__)


def proxy_video_options(src: ProxySource, profile: RenderProfile) -> dict[str, object]:
    """The proxy MP4's output options without its audio: H.264 as the profile says, timecode, metadata."""
    options: dict[str, object] = {
        "f": "mp4",
        "c:v": profile.video_codec,
        "preset": profile.preset,
        "crf": profile.crf,
        "profile:v": profile.h264_profile,
        "pix_fmt": profile.pix_fmt,
        "g": profile.gop_frames(src.proxy_fps),
        "movflags": "+faststart",
        "timecode": src.timecode,
        "map_metadata": -1,
        "metadata": f"title={src.display_name}",
        "metadata:g": f"comment=docfilm {RENDERER_VERSION} {profile.name} {profile.profile_hash()}",
        # ffmpeg >= 7 drops the display matrix after autorotating; older ones need the tag zeroed.
        "metadata:s:v:0": "rotate=0",
    }
    if profile.x264_params and profile.video_codec == "libx264":
        options["x264-params"] = profile.x264_params
    return options


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

    video = at_proxy_rate(source["v:0"], src, profile)
    fitted = fit_inside(video, profile, hdr=src.hdr)
    qc_video = None
    if qc_files is not None and qc_files.video is not None:
        fitted_split = fitted.split()
        fitted, qc_video = fitted_split[0], video_detectors(fitted_split[1], profile.qc, qc_files.video)
    branches = pad_to_frame(fitted, profile).split()

    proxy_video = burn_ins(branches[0], src, profile, font, timecode=True)
    proxy_streams = [proxy_video]
    proxy_options = proxy_video_options(src, profile)
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


def render_proxy(
    src: ProxySource,
    profile: RenderProfile,
    out_dir: Path,
    settings: RendersSettings,
    timeout_s: float | None = None,
    on_progress: ProgressCallback | None = None,
    rules: QcRules | None = None,
) -> ProxyResult:
    """Render `<asset_id>.mp4`, `.jpg` (poster), `.sheet.jpg` and QC from one decode, checked before commit.

    `rules` default to the settings' QC rules. Raises FfmpegFailed (unreadable or undecodable source),
    RenderTimeout, ProxyCheckFailed, QcUnreadable; in every failure no final file is created or replaced and
    no temp file is left.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    rules = rules or QcRules.from_settings(settings)
    proxy = out_dir / f"{src.asset_id}.mp4"
    poster = out_dir / f"{src.asset_id}.jpg"
    sheet = out_dir / f"{src.asset_id}.sheet.jpg" if profile.contact_sheet else None
    files = QcFiles.beside(out_dir, src.asset_id, video=True, audio=src.has_audio) if profile.qc.enabled else None
    font = font_file(settings) if needs_font(profile) else None
    graph = proxy_stream(src, profile, proxy, font, poster_path=poster, contact_sheet_path=sheet, qc_files=files)
    args = graph.compile(cmd=ffmpeg_exe(settings))
    checked: list[tuple[OutputFacts, Measurements]] = []

    def validate() -> None:
        # Runs after ffmpeg succeeded and before anything is renamed: a QC file that cannot be read fails
        # the render like a bad proxy would, so a "done" proxy always has its measurements.
        sheet_tmp = temp_path(sheet) if sheet else None
        facts = check_outputs(src, profile, temp_path(proxy), temp_path(poster), sheet_tmp)
        measured = (measure(files, src.proxy_fps, facts.duration_frames, src.clock, profile.qc) if files
                    else Measurements())
        checked.append((facts, measured))

    outputs = [(temp_path(poster), poster)]
    if sheet is not None:
        outputs.append((temp_path(sheet), sheet))
    outputs.append((temp_path(proxy), proxy))  # the proxy last: its presence is what marks the render done
    result: RunResult = run_ffmpeg(
        args, outputs, timeout_s, on_progress, label=src.asset_id, validate=validate,
        lock=lock_path(out_dir, src), scratch=files.paths() if files else (),
    )  # fmt: skip
    facts, measured = checked[0]
    sheet_record = contact_sheet_record(src, profile, sheet, facts.duration_frames) if sheet is not None else None
    qc = qc_record("video", facts, measured, rules, src, profile, result, hdr=src.hdr, contact_sheet=sheet_record)
    return ProxyResult(asset_id=src.asset_id, proxy=proxy, poster=poster, contact_sheet=sheet, qc=qc)
