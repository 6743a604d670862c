"""Audio-only masters (sound recordings, music, interviews on a recorder): an AAC proxy, a waveform, QC.

One ffmpeg run decodes the audio once and splits it:

    audio (first usable track, or all mixed) → asplit ─┬─ AAC in an .m4a (faststart, title, timecode tag)
                                                       ├─ showwavespic → waveform JPEG (the poster)
                                                       └─ silencedetect → ebur128 (true peak) → print → null

Decisions: the proxy is an .m4a (AAC in MP4), which browsers play in an <audio> element; the waveform picture
has the poster's size so the packet lays it out like a video poster. The start timecode (a recorder's BWF
time reference, if the ledger has one) is kept as a `timecode` tag; runs and cells are counted at the
asset's rate (for audio, the film's rate it was ingested at).
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import ffmpeg

from core.timecode import rate_text
from renders.errors import InvalidSource, ProxyCheckFailed
from renders.flags import QcRules
from renders.measurements import Measurements
from renders.outcome import AudioFacts, OutputFacts, PosterFacts, ProxyResult, lock_path, qc_record
from renders.picture import jpeg_options
from renders.profile import RENDERER_VERSION, RenderProfile
from renders.qc import QcFiles, audio_detectors, measure
from renders.runner import ProgressCallback, run_ffmpeg, temp_path
from renders.settings import RendersSettings
from renders.source import ProxySource
from renders.tools import ffmpeg_exe

log = logging.getLogger(__name__)

WAVEFORM_COLOUR = "0x9fd3ff"


def audio_source(source: Any, src: ProxySource, profile: RenderProfile) -> Any | None:
    """The audio the proxy carries and QC measures: first usable track, or every usable track summed."""
    if not src.has_audio:
        return None
    streams = src.audio_streams
    if profile.audio_tracks == "mix" and len(streams) > 1:
        # normalize=0: tracks are summed as a mixer would, not each turned down by 1/N.
        return ffmpeg.filter(
            [source[str(i)] for i in streams], "amix", inputs=len(streams), normalize=0, duration="longest"
        )
    return source[str(streams[0])] if streams else source["a:0"]


def audio_proxy_stream(
    src: ProxySource, profile: RenderProfile, out_path: Path, poster_path: Path, qc_files: QcFiles | None = None
) -> Any:
    """The ffmpeg-python graph writing the audio proxy and its waveform to their temp names."""
    source = ffmpeg.input(str(src.path.absolute()))
    audio = audio_source(source, src, profile)
    if audio is None:
        raise InvalidSource(f"{src.asset_id}: an audio asset without audio streams")
    branches = audio.asplit()
    proxy_out = ffmpeg.output(
        branches[0],
        str(temp_path(out_path).absolute()),
        **{
            "f": "mp4",
            "c:a": profile.audio_codec,
            "b:a": profile.audio_bitrate,
            "ar": profile.audio_rate,
            "ac": profile.audio_channels,
            # use_metadata_tags: MP4 keeps arbitrary tags (the timecode) only as mdta keys.
            "movflags": "+faststart+use_metadata_tags",
            "map_metadata": -1,
            "metadata": f"title={src.display_name}",
            "metadata:g": f"comment=docfilm {RENDERER_VERSION} {profile.name} {profile.profile_hash()}",
            # -timecode sets the global "timecode" tag (there is no video track for a tmcd track).
            "timecode": src.timecode,
        },
    )
    waveform = branches[1].filter(
        "showwavespic", s=f"{profile.poster_width}x{profile.poster_height}", colors=WAVEFORM_COLOUR, scale="sqrt"
    )
    outputs = [proxy_out, ffmpeg.output(waveform, str(temp_path(poster_path).absolute()), **jpeg_options(profile))]
    if qc_files is not None and qc_files.silence is not None and qc_files.loudness is not None:
        measured = audio_detectors(branches[2], profile.qc, qc_files.silence, qc_files.loudness)
        outputs.append(ffmpeg.output(measured, "-", f="null"))
    return ffmpeg.merge_outputs(*outputs)


def audio_facts(path: Path, rate: Fraction) -> tuple[int, str | None, AudioFacts]:
    """(length in frames at `rate`, timecode tag, audio) PyAV reads from a rendered audio proxy."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        seconds = (
            Fraction(stream.duration) * stream.time_base
            if stream.duration is not None and stream.time_base is not None
            else Fraction(container.duration or 0, av.time_base)
        )
        audio = AudioFacts(
            codec=stream.codec_context.name,
            sample_rate=stream.codec_context.sample_rate,
            channels=stream.codec_context.channels,
        )
        return round(seconds * rate), container.metadata.get("timecode"), audio


def _check(src: ProxySource, profile: RenderProfile, proxy_tmp: Path, poster_tmp: Path) -> OutputFacts:
    try:
        frames, timecode, audio = audio_facts(proxy_tmp, src.fps)
        with av.open(str(poster_tmp)) as container:
            picture = next(container.decode(video=0))
    except (av.FFmpegError, StopIteration, IndexError) as exc:
        raise ProxyCheckFailed(f"{src.asset_id}: audio proxy or waveform cannot be read back: {exc}") from exc
    problems = []
    if audio.codec != profile.audio_codec.removeprefix("lib"):
        problems.append(f"codec {audio.codec}, expected {profile.audio_codec}")
    if frames <= 0:
        problems.append("no sound")
    if (picture.width, picture.height) != (profile.poster_width, profile.poster_height):
        problems.append(f"waveform {picture.width}x{picture.height}")
    if problems:
        raise ProxyCheckFailed(f"{src.asset_id}: audio proxy is not as promised: " + "; ".join(problems))
    return OutputFacts(
        duration_frames=frames,
        poster=PosterFacts(width=picture.width, height=picture.height, frame=None, waveform=True),
        fps=rate_text(src.fps),
        timecode=timecode,
        audio=audio,
    )


def render_audio_proxy(
    src: ProxySource,
    profile: RenderProfile,
    out_dir: Path,
    settings: RendersSettings,
    timeout_s: float | None = None,
    on_progress: ProgressCallback | None = None,
    rules: QcRules | None = None,
) -> ProxyResult:
    """Render `<asset_id>.m4a` and its waveform `<asset_id>.jpg` with QC from one decode, checked before commit."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rules = rules or QcRules.from_settings(settings)
    proxy = out_dir / f"{src.asset_id}.m4a"
    poster = out_dir / f"{src.asset_id}.jpg"
    files = QcFiles.beside(out_dir, src.asset_id, video=False, audio=True) if profile.qc.enabled else None
    args = audio_proxy_stream(src, profile, proxy, poster, files).compile(cmd=ffmpeg_exe(settings))
    checked: list[tuple[OutputFacts, Measurements]] = []

    def validate() -> None:
        facts = _check(src, profile, temp_path(proxy), temp_path(poster))
        measured = measure(files, src.fps, facts.duration_frames, src.clock, profile.qc) if files else Measurements()
        checked.append((facts, measured))

    result = run_ffmpeg(
        args, [(temp_path(poster), poster), (temp_path(proxy), proxy)], timeout_s, on_progress,
        label=src.asset_id, validate=validate, time_rate=src.fps, lock=lock_path(out_dir, src),
        scratch=files.paths() if files else (),
    )  # fmt: skip
    facts, measured = checked[0]
    qc = qc_record("audio", facts, measured, rules, src, profile, result)
    return ProxyResult(asset_id=src.asset_id, proxy=proxy, poster=poster, qc=qc)
