"""The ffmpeg commands bench/render.py times: the one pass (proxy, poster, contact sheet, QC) as docfilm builds
it, the proxy alone, QC and the contact sheet as passes of their own, and the one pass built up a part at a
time (its stage split). Built with docfilm's own renders package, run by the bench as bare ffmpeg."""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg

from flows import steps
from flows.workspace import Workspace, film_path
from renders.audio import audio_source
from renders.burnin import burn_ins
from renders.picture import (
    at_proxy_rate,
    contact_sheet_branch,
    contact_sheet_frames,
    fit_inside,
    fit_to_frame,
    jpeg_options,
)
from renders.profile import RenderProfile
from renders.proxy import proxy_stream, proxy_video_options
from renders.qc import QcFiles, audio_detectors, video_detectors
from renders.runner import run_flags, temp_path
from renders.settings import RendersSettings
from renders.source import ProxySource
from renders.tools import ffmpeg_exe, font_file

SETTINGS = RendersSettings()  # read once, as a command does


@dataclass
class Clip:
    """A bench clip as the ledger knows it."""

    src: ProxySource
    seconds: float


def ledger_clips(home: Path) -> list[Clip]:
    os.environ["DOCFILM_HOME"] = str(home)
    ws = Workspace(film_path(None))
    clips = []
    for asset in ws.ledger.assets(kind="video"):
        src = steps.proxy_source(asset, Fraction(ws.film.film.fps))
        clips.append(Clip(src, float(src.duration_frames / src.fps)))
    return sorted(clips, key=lambda c: c.src.display_name)


def ffmpeg_argv(graph: Any) -> list[str]:
    """The command as the runner runs it (same global flags, progress to stdout)."""
    args = graph.compile(cmd=ffmpeg_exe(SETTINGS))
    return [args[0], *run_flags(), *args[1:]]


def one_pass(clip: Clip, profile: RenderProfile, out: Path) -> list[str]:
    src = clip.src
    files = QcFiles.beside(out, src.asset_id, video=True, audio=src.has_audio)
    return ffmpeg_argv(proxy_stream(src, profile, out / f"{src.asset_id}.mp4", font_file(SETTINGS),
                                    poster_path=out / f"{src.asset_id}.jpg",
                                    contact_sheet_path=out / f"{src.asset_id}.sheet.jpg", qc_files=files))


def proxy_alone(clip: Clip, profile: RenderProfile, out: Path) -> list[str]:
    src = clip.src
    return ffmpeg_argv(proxy_stream(src, profile, out / f"{src.asset_id}.mp4", font_file(SETTINGS),
                                    poster_path=out / f"{src.asset_id}.jpg"))


def _decoded(src: ProxySource, profile: RenderProfile) -> tuple[Any, Any]:
    source = ffmpeg.input(str(src.path.absolute()))
    return source, at_proxy_rate(source["v:0"], src, profile)


def qc_pass(clip: Clip, profile: RenderProfile, out: Path) -> list[str]:
    """QC as its own decode: the same detectors on the same small picture, and the audio ones."""
    src = clip.src
    files = QcFiles.beside(out, src.asset_id, video=True, audio=src.has_audio)
    source, video = _decoded(src, profile)
    assert files.video is not None
    streams = [video_detectors(fit_inside(video, profile, hdr=src.hdr), profile.qc, files.video)]
    audio = audio_source(source, src, profile)
    if audio is not None and files.silence is not None and files.loudness is not None:
        streams.append(audio_detectors(audio, profile.qc, files.silence, files.loudness))
    return ffmpeg_argv(ffmpeg.output(*streams, "-", f="null"))


def sheet_pass(clip: Clip, profile: RenderProfile, out: Path) -> list[str]:
    """The contact sheet as its own decode."""
    src = clip.src
    _source, video = _decoded(src, profile)
    sheet = contact_sheet_branch(fit_to_frame(video, profile, hdr=src.hdr),
                                 contact_sheet_frames(src, profile.contact_sheet_cells), profile)
    return ffmpeg_argv(ffmpeg.output(sheet, str(temp_path(out / f"{src.asset_id}.sheet.jpg")),
                                     **jpeg_options(profile)))


def stage_commands(clip: Clip, profile: RenderProfile, out: Path) -> list[tuple[str, list[str]]]:
    """(e) The one pass built up a part at a time, each a full run: decode alone, then each part added.

    The difference between two neighbours is what that part costs inside the one pass. Every run decodes
    the same streams (picture and the audio the proxy carries), so decoding is in each and cancels out.
    """
    src = clip.src
    font = font_file(SETTINGS)
    name = src.asset_id

    def picture(upto: str) -> list[str]:
        """Decode, then the picture chain up to `upto` (rate, scale, burn-in, x264), audio decoded to null."""
        source = ffmpeg.input(str(src.path.absolute()))
        audio = audio_source(source, src, profile)
        video = source["v:0"] if upto == "decode" else at_proxy_rate(source["v:0"], src, profile)
        if upto in ("scale", "burn-in", "x264"):
            video = fit_to_frame(video, profile, hdr=src.hdr)
        if upto in ("burn-in", "x264"):
            video = burn_ins(video, src, profile, font, timecode=True)
        if upto == "x264":
            streams = [ffmpeg.output(video, str(temp_path(out / f"{name}.mp4")), **proxy_video_options(src, profile))]
            if audio is not None:
                streams.append(ffmpeg.output(audio, "-", f="null"))
            return ffmpeg_argv(ffmpeg.merge_outputs(*streams))
        return ffmpeg_argv(ffmpeg.output(*[video, *([audio] if audio is not None else [])], "-", f="null"))

    no_audio_qc = QcFiles.beside(out, name, video=True, audio=False)
    return [
        ("decode alone", picture("decode")),
        ("+ rate, deinterlace", picture("rate")),  # deinterlacing only where the source is interlaced
        ("+ scale to the proxy frame", picture("scale")),
        ("+ burn-in (name, timecode)", picture("burn-in")),
        ("+ x264 (proxy picture)", picture("x264")),
        ("+ AAC, poster", proxy_alone(clip, profile, out)),
        ("+ contact sheet", ffmpeg_argv(proxy_stream(src, profile, out / f"{name}.mp4", font,
                                                     poster_path=out / f"{name}.jpg",
                                                     contact_sheet_path=out / f"{name}.sheet.jpg"))),
        ("+ QC video", ffmpeg_argv(proxy_stream(src, profile, out / f"{name}.mp4", font,
                                                poster_path=out / f"{name}.jpg",
                                                contact_sheet_path=out / f"{name}.sheet.jpg", qc_files=no_audio_qc))),
        ("+ QC audio (the one pass)", one_pass(clip, profile, out)),
    ]
