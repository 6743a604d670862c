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

For QC and the other kinds of source: make_qc_clip (black, frozen, silent spans at known times),
make_vfr_clip (variable frame rate with a flash-and-beep sync marker), make_multitrack_clip (one mono
track per microphone), make_hdr_clip (10-bit HLG BT.2020 ProRes), make_tone_file (a WAV take).
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


def _encode_h264_aac(picture: Any, audio: Any, out_path: Path, frames: int, start_timecode: str | None) -> Any:
    options: dict[str, object] = {
        "f": "mp4", "frames:v": frames, "c:v": "libx264", "preset": "veryfast", "crf": 20, "pix_fmt": "yuv420p",
        "c:a": "aac", "b:a": "192k", "ar": AUDIO_RATE,
    }  # fmt: skip
    if start_timecode is not None:
        options["timecode"] = start_timecode
    return ffmpeg.output(picture, audio, str(temp_path(out_path).absolute()), **options)


def tone_expression(peak_dbfs: float = TONE_PEAK_DBFS, hz: int = TONE_HZ) -> str:
    """aevalsrc expression of a sine of `hz` peaking at `peak_dbfs`."""
    return f"{10 ** (peak_dbfs / 20):.6f}*sin(2*PI*{hz}*t)"


def make_qc_clip(
    out_path: Path,
    seconds: float = 8,
    *,
    black: tuple[float, float] | None = None,
    frozen: tuple[float, float] | None = None,
    silent: tuple[float, float] | None = None,
    tone_peak_dbfs: float = TONE_PEAK_DBFS,
    start_timecode: str | None = "10:00:00:00",
    size: tuple[int, int] = (320, 180),
    fps: int = 25,
    settings: RendersSettings,
) -> Path:
    """An H.264/AAC MP4 with faults at known times, for QC: black picture, frozen picture, silence.

    Each fault is a [start, end) span in seconds; it covers the frames from round(start*fps) up to,
    not including, round(end*fps). The rest is a moving testsrc2 picture and a stereo 1 kHz tone.
    """
    frames = clip_frames(seconds, fps)
    duration = f"{frames / fps:.6f}"
    picture = ffmpeg.input(f"testsrc2=size={size[0]}x{size[1]}:rate={fps}:duration={duration}", f="lavfi").video
    if frozen is not None:
        first, last = round(frozen[0] * fps), round(frozen[1] * fps)
        # loop repeats one frame in place; trim brings the clip back to its length.
        picture = picture.filter("loop", loop=last - first - 1, size=1, start=first).filter(
            "trim", end_frame=frames
        )
    if black is not None:
        first, last = round(black[0] * fps), round(black[1] * fps)
        picture = picture.drawbox(0, 0, "iw", "ih", color="black", thickness="fill",
                                  enable=f"between(n,{first},{last - 1})")
    audio = ffmpeg.input(
        f"aevalsrc={tone_expression(tone_peak_dbfs)}:channel_layout=stereo:sample_rate={AUDIO_RATE}:"
        f"duration={duration}",
        f="lavfi",
    ).audio
    if silent is not None:
        audio = audio.filter("volume", 0, enable=f"between(t,{silent[0]},{silent[1]})")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    args = _encode_h264_aac(picture, audio, out_path, frames, start_timecode).compile(cmd=ffmpeg_exe(settings))
    run_ffmpeg(args, [(temp_path(out_path), out_path)], 600, label=out_path.name)
    return out_path


def make_vfr_clip(
    out_path: Path, seconds: float = 3, flash_at: float = 2.0, fps: int = 30, *, settings: RendersSettings
) -> Path:
    """A variable-frame-rate phone-like MP4 with a sync marker: a white flash and a beep at `flash_at`.

    Frames are dropped in bursts with their timestamps kept, as phones do when light drops.
    """
    frames = clip_frames(seconds, fps)
    duration = f"{frames / fps:.6f}"
    picture = (
        ffmpeg.input(f"color=c=black:size=320x180:rate={fps}:duration={duration}", f="lavfi")
        .video.drawbox(0, 0, "iw", "ih", color="white", thickness="fill",
                       enable=f"between(t,{flash_at},{flash_at + 0.2})")
        # Drop a burst of frames and every other frame for a while: the gaps make the rate variable.
        .filter("select", f"not(between(n,{fps // 3},{fps}))*not(between(n,{fps + 5},{fps + 20})*mod(n,2))")
    )  # fmt: skip
    beep = f"{tone_expression()}*between(t,{flash_at},{flash_at + 0.2})"
    audio = ffmpeg.input(
        # Quoted: the expression's commas would otherwise end the filter's options.
        f"aevalsrc='{beep}':channel_layout=stereo:sample_rate={AUDIO_RATE}:duration={duration}", f="lavfi"
    ).audio
    out_path.parent.mkdir(parents=True, exist_ok=True)
    stream = ffmpeg.output(
        picture, audio, str(temp_path(out_path).absolute()),
        **{"f": "mp4", "fps_mode": "vfr", "c:v": "libx264", "preset": "veryfast", "pix_fmt": "yuv420p",
           "c:a": "aac", "ar": AUDIO_RATE},
    )  # fmt: skip
    run_ffmpeg(stream.compile(cmd=ffmpeg_exe(settings)), [(temp_path(out_path), out_path)], 600, label=out_path.name)
    return out_path


def make_multitrack_clip(
    out_path: Path,
    seconds: float = 2,
    tones_hz: tuple[int, ...] = (440, 1000),
    size: tuple[int, int] = (320, 180),
    *,
    settings: RendersSettings,
) -> Path:
    """A camera-like MOV with one mono PCM track per tone (each peaking at -23 dBFS), one a microphone."""
    frames = clip_frames(seconds, 25)
    duration = f"{frames / 25:.6f}"
    picture = ffmpeg.input(f"testsrc2=size={size[0]}x{size[1]}:rate=25:duration={duration}", f="lavfi").video
    tracks = [
        ffmpeg.input(
            f"aevalsrc={tone_expression(hz=hz)}:channel_layout=mono:sample_rate={AUDIO_RATE}:duration={duration}",
            f="lavfi",
        ).audio
        for hz in tones_hz
    ]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    stream = ffmpeg.output(
        picture, *tracks, str(temp_path(out_path).absolute()),
        **{"f": "mov", "frames:v": frames, "c:v": "libx264", "preset": "veryfast", "pix_fmt": "yuv420p",
           "c:a": "pcm_s24le", "timecode": "10:00:00:00"},
    )  # fmt: skip
    run_ffmpeg(stream.compile(cmd=ffmpeg_exe(settings)), [(temp_path(out_path), out_path)], 600, label=out_path.name)
    return out_path


def make_hdr_clip(
    out_path: Path, seconds: float = 0.4, size: tuple[int, int] = (320, 180), *, settings: RendersSettings
) -> Path:
    """A 10-bit HLG BT.2020 ProRes MOV (as HDR cameras record): the SDR testsrc2 picture converted to HLG."""
    frames = clip_frames(seconds, 25)
    duration = f"{frames / 25:.6f}"
    picture = (
        ffmpeg.input(f"testsrc2=size={size[0]}x{size[1]}:rate=25:duration={duration}", f="lavfi")
        .video.filter("setparams", color_trc="bt709", color_primaries="bt709", colorspace="bt709", range="tv")
        .filter("zscale", t="arib-std-b67", p="bt2020", m="bt2020nc", r="tv", npl=100)
        .filter("format", "yuv422p10le")
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    stream = ffmpeg.output(
        picture, str(temp_path(out_path).absolute()),
        **{"f": "mov", "frames:v": frames, "c:v": "prores_aw", "profile:v": 2, "pix_fmt": "yuv422p10le",
           "color_trc": "arib-std-b67", "color_primaries": "bt2020", "colorspace": "bt2020nc"},
    )  # fmt: skip
    run_ffmpeg(stream.compile(cmd=ffmpeg_exe(settings)), [(temp_path(out_path), out_path)], 600, label=out_path.name)
    return out_path


def make_tone_file(
    out_path: Path, seconds: float = 3, peak_dbfs: float = TONE_PEAK_DBFS, *, settings: RendersSettings
) -> Path:
    """A stereo 48 kHz 24-bit WAV of the 1 kHz tone, like a field recorder's take."""
    frames = round(Fraction(str(seconds)) * AUDIO_RATE)
    audio = ffmpeg.input(
        f"aevalsrc={tone_expression(peak_dbfs)}:channel_layout=stereo:sample_rate={AUDIO_RATE}:"
        f"duration={frames / AUDIO_RATE:.6f}",
        f="lavfi",
    ).audio
    out_path.parent.mkdir(parents=True, exist_ok=True)
    stream = ffmpeg.output(audio, str(temp_path(out_path).absolute()), f="wav", acodec="pcm_s24le")
    run_ffmpeg(stream.compile(cmd=ffmpeg_exe(settings)), [(temp_path(out_path), out_path)], 600, label=out_path.name)
    return out_path
