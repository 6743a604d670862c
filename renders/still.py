"""Stills (photos, scanned documents, graphics): a still proxy and a poster from one decode.

Decision: a still's proxy is a JPEG of the profile frame (960x540), the picture fitted inside and padded like a
video proxy, with the name and watermark burnt in; no timecode (a still has no time) and no MP4 (a
one-frame video would only add a player around the same picture). Its poster is the same picture at poster
size without burn-ins. QC has nothing to measure on a still.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import av
import ffmpeg

from renders.burnin import burn_ins, needs_font
from renders.errors import ProxyCheckFailed
from renders.flags import QcRules
from renders.measurements import Measurements
from renders.outcome import OutputFacts, PosterFacts, ProxyResult, lock_path, qc_record
from renders.picture import fit_to_frame, jpeg_options
from renders.profile import RenderProfile
from renders.runner import ProgressCallback, run_ffmpeg, temp_path
from renders.settings import RendersSettings
from renders.source import ProxySource
from renders.tools import ffmpeg_exe, font_file

log = logging.getLogger(__name__)


def still_proxy_stream(
    src: ProxySource, profile: RenderProfile, out_path: Path, poster_path: Path, font: Path | None
) -> Any:
    """The ffmpeg-python graph writing the still proxy and its poster to their temp names."""
    if font is None and needs_font(profile):
        raise ValueError("a font is needed to burn in the name or watermark")
    source = ffmpeg.input(str(src.path.absolute()))
    branches = fit_to_frame(source["v:0"], profile, hdr=src.hdr).split()
    proxy = burn_ins(branches[0], src, profile, font, timecode=False).filter("scale", out_range="full")
    poster = branches[1].filter(
        "scale", profile.poster_width, profile.poster_height, flags=profile.scale_flags, out_range="full"
    )
    return ffmpeg.merge_outputs(
        ffmpeg.output(proxy, str(temp_path(out_path).absolute()), **jpeg_options(profile), **{"frames:v": 1}),
        ffmpeg.output(poster, str(temp_path(poster_path).absolute()), **jpeg_options(profile), **{"frames:v": 1}),
    )


def _check(src: ProxySource, profile: RenderProfile, proxy_tmp: Path, poster_tmp: Path) -> OutputFacts:
    try:
        with av.open(str(proxy_tmp)) as container:
            picture = next(container.decode(video=0))
        with av.open(str(poster_tmp)) as container:
            poster = next(container.decode(video=0))
    except (av.FFmpegError, StopIteration, IndexError) as exc:
        raise ProxyCheckFailed(f"{src.asset_id}: still proxy or poster cannot be read back: {exc}") from exc
    if (picture.width, picture.height) != (profile.width, profile.height) or poster.width != profile.poster_width:
        raise ProxyCheckFailed(
            f"{src.asset_id}: still proxy {picture.width}x{picture.height}, poster {poster.width} wide; expected "
            f"{profile.width}x{profile.height} and {profile.poster_width}"
        )
    return OutputFacts(
        duration_frames=1,
        poster=PosterFacts(width=poster.width, height=poster.height, frame=0),
        width=picture.width,
        height=picture.height,
    )


def render_still_proxy(
    src: ProxySource,
    profile: RenderProfile,
    out_dir: Path,
    settings: RendersSettings,
    timeout_s: float | None = None,
    on_progress: ProgressCallback | None = None,
    rules: QcRules | None = None,
) -> ProxyResult:
    """Render `<asset_id>.proxy.jpg` and its poster `<asset_id>.jpg` in one ffmpeg run, checked before commit."""
    out_dir.mkdir(parents=True, exist_ok=True)
    proxy = out_dir / f"{src.asset_id}.proxy.jpg"
    poster = out_dir / f"{src.asset_id}.jpg"
    font = font_file(settings) if needs_font(profile) else None
    args = still_proxy_stream(src, profile, proxy, poster, font).compile(cmd=ffmpeg_exe(settings))
    checked: list[OutputFacts] = []

    def validate() -> None:
        checked.append(_check(src, profile, temp_path(proxy), temp_path(poster)))

    result = run_ffmpeg(
        args, [(temp_path(poster), poster), (temp_path(proxy), proxy)], timeout_s, on_progress,
        label=src.asset_id, validate=validate, lock=lock_path(out_dir, src),
    )  # fmt: skip
    # A still has nothing to measure: its record holds the rules it would be judged by, and no flags.
    qc = qc_record("still", checked[0], Measurements(), rules or QcRules.from_settings(settings), src, profile, result)
    return ProxyResult(asset_id=src.asset_id, proxy=proxy, poster=poster, qc=qc)
