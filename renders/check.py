"""The proxy check: the temp outputs of a video render read back and compared with what the profile promises."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from core.timecode import rate_text
from core.vocabulary import HDR_TRANSFER_BY_CODE
from renders.errors import ProxyCheckFailed
from renders.outcome import AudioFacts, OutputFacts, PosterFacts
from renders.picture import poster_frame_index
from renders.profile import RenderProfile
from renders.source import ProxySource


@dataclass(frozen=True)
class PictureFacts:
    """Facts PyAV reads from a rendered picture or video."""

    width: int
    height: int
    fps: str | None
    duration_frames: int
    rotation: int
    timecode: str | None
    color_transfer: int
    audio: AudioFacts | None


def picture_facts(path: Path) -> PictureFacts:
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
        return PictureFacts(
            width=first.width,
            height=first.height,
            fps=rate_text(Fraction(rate)) if rate else None,
            duration_frames=int(frames or 0),
            rotation=int(first.rotation or 0),
            timecode=timecode,
            color_transfer=int(video.codec_context.color_trc or 0),
            audio=None
            if audio is None
            else AudioFacts(
                codec=audio.codec_context.name,
                sample_rate=audio.codec_context.sample_rate,
                channels=audio.codec_context.channels,
            ),
        )


def check_outputs(
    src: ProxySource, profile: RenderProfile, proxy_tmp: Path, poster_tmp: Path, sheet_tmp: Path | None
) -> OutputFacts:
    """Probe the temp outputs; raise ProxyCheckFailed unless they are what the profile promises."""
    try:
        facts = picture_facts(proxy_tmp)
        poster = picture_facts(poster_tmp)
        sheet = picture_facts(sheet_tmp) if sheet_tmp is not None else None
    except (av.FFmpegError, StopIteration, IndexError) as exc:
        raise ProxyCheckFailed(f"{src.asset_id}: rendered proxy or its pictures cannot be read back: {exc}") from exc
    problems = []
    if (facts.width, facts.height) != (profile.width, profile.height):
        problems.append(f"frame {facts.width}x{facts.height}, expected {profile.width}x{profile.height}")
    if facts.rotation != 0:
        problems.append(f"rotation {facts.rotation}, expected 0 (already applied)")
    if facts.duration_frames <= 0:
        problems.append("no frames")
    if facts.timecode != src.timecode:
        problems.append(f"timecode {facts.timecode!r}, expected {src.timecode!r}")
    if src.hdr and facts.color_transfer in HDR_TRANSFER_BY_CODE:
        problems.append(f"still tagged HDR ({HDR_TRANSFER_BY_CODE[facts.color_transfer]}) after tone mapping")
    if src.has_audio and facts.audio is None:
        problems.append("no audio, though the source has some")
    if poster.width != profile.poster_width:
        problems.append(f"poster {poster.width} wide, expected {profile.poster_width}")
    if sheet is not None and sheet.width != profile.contact_cell_size[0] * profile.contact_sheet_columns:
        problems.append(f"contact sheet {sheet.width} wide")
    if problems:
        raise ProxyCheckFailed(f"{src.asset_id}: proxy is not as promised: " + "; ".join(problems))
    shown = min(poster_frame_index(src), facts.duration_frames - 1)
    return OutputFacts(
        duration_frames=facts.duration_frames,
        poster=PosterFacts(width=poster.width, height=poster.height, frame=shown),
        width=facts.width,
        height=facts.height,
        fps=facts.fps,
        rotation=facts.rotation,
        timecode=facts.timecode,
        color_transfer=facts.color_transfer,
        audio=facts.audio,
    )
