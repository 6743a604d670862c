"""Camera-like sample footage for the demo and tests, made by ffmpeg from test patterns.

Every clip shows a moving testsrc2 picture with a Vietnamese label and carries a stereo 1 kHz tone whose
peak is -23 dBFS, which measures about -23 LUFS (EBU Tech 3341 reference), the QCVN 115:2017 target.

Kinds (make_clip):
- prores_mov: ProRes 422 (prores_aw, 4x faster than prores_ks) yuv422p10le, PCM 24-bit, MOV with tmcd.
- h264_mp4: H.264 High 4:2:0, AAC, MP4 with tmcd, moov at the end as cameras and phones write it.
- mpegts_1080i: true interlaced H.264 (fields from a double-rate picture, top field first, MBAFF), MP2
  audio, MPEG-TS. ffmpeg cannot store a start timecode in MPEG-TS: the `timecode` asked for is lost.
- phone_portrait_mp4: a portrait phone clip: picture stored sideways (coded landscape) with a display
  matrix of -90 degrees, H.264 + AAC. `size` is the coded (sensor) size: 1920x1080 displays as 1080x1920.

Clips for particular cases (QC faults, variable rate, several microphones, HDR, a recorder's take) are
in renders.synth_cases.
"""

from __future__ import annotations

import logging
import os
import unicodedata
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal, get_args

import ffmpeg

from renders.burnin import burn_text
from renders.errors import RenderError
from renders.runner import run_ffmpeg, temp_path
from renders.settings import RendersSettings
from renders.tools import ffmpeg_exe, font_file

log = logging.getLogger(__name__)

SynthKind = Literal["prores_mov", "h264_mp4", "mpegts_1080i", "phone_portrait_mp4"]
SYNTH_KINDS: tuple[SynthKind, ...] = get_args(SynthKind)
SUFFIXES: dict[str, str] = {
    "prores_mov": ".mov",
    "h264_mp4": ".mp4",
    "mpegts_1080i": ".ts",
    "phone_portrait_mp4": ".mp4",
}
TONE_PEAK_DBFS = -23.0
TONE_HZ = 1000
AUDIO_RATE = 48000
PHONE_ROTATION = -90  # display matrix angle as PyAV/ffmpeg report it (counter-clockwise degrees)


def _rate(fps: Fraction) -> str:
    return f"{fps.numerator}/{fps.denominator}"


def clip_frames(seconds: float, fps: int | Fraction) -> int:
    """Frames in a clip of `seconds` at `fps` (at least one)."""
    return max(1, round(Fraction(str(seconds)) * Fraction(fps)))


def clip_stream(
    out_path: Path,
    kind: str,
    label: str,
    seconds: float,
    start_timecode: str | None,
    size: tuple[int, int] = (1920, 1080),
    fps: int | Fraction = 25,
    *,
    font: Path,
) -> Any:
    """The ffmpeg-python graph writing one synthetic clip to temp_path(out_path)."""
    if kind not in SYNTH_KINDS:
        raise ValueError(f"unknown clip kind {kind!r}; expected one of {', '.join(SYNTH_KINDS)}")
    width, height = size
    rate = Fraction(fps)
    frames = clip_frames(seconds, rate)
    duration = f"{float(frames / rate):.6f}"
    interlaced = kind == "mpegts_1080i"
    # Interlaced video is made the way a camera makes it: each field sampled at its own instant.
    picture_rate = rate * 2 if interlaced else rate
    picture_input: dict[str, object] = {"f": "lavfi"}
    if kind == "phone_portrait_mp4":
        # Keep the display matrix we set on the input: it is carried to the output, like a phone's.
        picture_input.update({"display_rotation": PHONE_ROTATION, "noautorotate": None})
    upright = (height, width) if kind == "phone_portrait_mp4" else (width, height)
    picture = ffmpeg.input(
        f"testsrc2=size={upright[0]}x{upright[1]}:rate={_rate(picture_rate)}:duration={duration}",
        **picture_input,
    ).video
    picture = burn_text(
        picture,
        unicodedata.normalize("NFC", label),
        font,
        x="(w-text_w)/2",
        y="h*0.7",
        fontsize=max(12, min(upright) // 16),
    )
    if interlaced:
        picture = picture.filter("interlace", scan="tff")
    if kind == "phone_portrait_mp4":
        # Stored sideways: rotated counter-clockwise, so the -90 display matrix turns it back upright.
        picture = picture.filter("transpose", "cclock")

    amplitude = 10 ** (TONE_PEAK_DBFS / 20)
    tone = ffmpeg.input(
        f"aevalsrc={amplitude:.6f}*sin(2*PI*{TONE_HZ}*t):channel_layout=stereo:"
        f"sample_rate={AUDIO_RATE}:duration={duration}",
        f="lavfi",
    ).audio

    options: dict[str, object] = {"frames:v": frames, "ar": AUDIO_RATE, "ac": 2}
    if start_timecode is not None:
        options["timecode"] = start_timecode
    if kind == "prores_mov":
        options.update(
            {
                "f": "mov",
                "c:v": "prores_aw",
                "profile:v": 2,  # ProRes 422 (standard)
                "vendor": "apl0",
                "pix_fmt": "yuv422p10le",
                "c:a": "pcm_s24le",
            }
        )
    elif kind in ("h264_mp4", "phone_portrait_mp4"):
        options.update(
            {
                "f": "mp4",
                "c:v": "libx264",
                "preset": "veryfast",
                "crf": 20,
                "profile:v": "high",
                "pix_fmt": "yuv420p",
                "g": max(1, round(rate)),
                "c:a": "aac",
                "b:a": "192k",
            }
        )
    else:
        options.update(
            {
                "f": "mpegts",
                "c:v": "libx264",
                "preset": "veryfast",
                "crf": 20,
                "profile:v": "high",
                "pix_fmt": "yuv420p",
                "flags": "+ildct+ilme",
                "field_order": "tt",
                "g": max(1, round(rate / 2)),
                "c:a": "mp2",
                "b:a": "192k",
            }
        )
    return ffmpeg.output(picture, tone, str(temp_path(out_path).absolute()), **options)


def make_clip(
    out_path: Path,
    kind: str,
    label: str,
    seconds: float = 2,
    start_timecode: str | None = "10:00:00:00",
    size: tuple[int, int] = (1920, 1080),
    fps: int | Fraction = 25,
    timeout_s: float | None = 600,
    *,
    settings: RendersSettings,
) -> Path:
    """Write one synthetic clip to `out_path` (temp name, renamed on success); returns `out_path`."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    graph = clip_stream(out_path, kind, label, seconds, start_timecode, size, fps, font=font_file(settings))
    args = graph.compile(cmd=ffmpeg_exe(settings))
    run_ffmpeg(args, [(temp_path(out_path), out_path)], timeout_s, label=out_path.name)
    return out_path


def _top_level_boxes(data: bytes) -> Iterator[tuple[str, int, int]]:
    """(type, offset, size) of the top-level ISO BMFF boxes found in `data`."""
    offset = 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        kind = data[offset + 4 : offset + 8].decode("latin-1")
        if size == 1 and offset + 16 <= len(data):
            size = int.from_bytes(data[offset + 8 : offset + 16], "big")
        elif size == 0:
            size = len(data) - offset
        yield kind, offset, size
        if size < 8:
            return
        offset += size


def make_broken_file(out_path: Path, keep_bytes: int = 16384, *, settings: RendersSettings) -> Path:
    """Write a truncated MP4: the start of a real clip whose moov (index) was never written."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    whole = out_path.with_name(f".{out_path.stem}.whole.mp4")
    try:
        make_clip(
            whole, "h264_mp4", "broken", seconds=1, start_timecode=None, size=(320, 180), settings=settings
        )
        data = whole.read_bytes()
    finally:
        whole.unlink(missing_ok=True)
    boxes = {kind: (offset, size) for kind, offset, size in _top_level_boxes(data)}
    if "mdat" not in boxes or "moov" not in boxes or boxes["moov"][0] < boxes["mdat"][0]:
        raise RenderError(f"expected an MP4 with its moov after mdat to truncate, got boxes {sorted(boxes)}")
    mdat_offset, mdat_size = boxes["mdat"]
    # Cut inside the media data: the file looks like an interrupted recording.
    cut = max(mdat_offset + 16, min(keep_bytes, mdat_offset + mdat_size // 2))
    tmp = temp_path(out_path)
    tmp.write_bytes(data[:cut])
    os.replace(tmp, out_path)
    return out_path
