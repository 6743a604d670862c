"""Sample clips for particular cases, made by ffmpeg from test patterns and tones (see renders.synth).

make_qc_clip (black, frozen, silent spans at known times), make_vfr_clip (variable frame rate with a
flash-and-beep sync marker), make_multitrack_clip (one mono track per microphone), make_hdr_clip (10-bit HLG
BT.2020 ProRes), make_tone_file (a WAV take).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg

from renders.runner import run_ffmpeg, temp_path
from renders.settings import RendersSettings
from renders.synth import AUDIO_RATE, TONE_HZ, TONE_PEAK_DBFS, clip_frames
from renders.tools import ffmpeg_exe


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
