"""Test helper (not a test module): proxy-like clips whose every frame shows its own frame number, and reading
the numbers back from a rendered file or a picture, to check frame accuracy end to end.

Frame n shows n in binary as BITS stripes across the picture (stripe k, left to right, white when bit k is set).
"""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import av
import imageio_ffmpeg

from core.timecode import rate_text

BITS = 11
W, H = 960, 540


def make_numbered(path: Path, rate: Fraction, frames: int, tone: int | None) -> None:
    """A proxy-like MP4 at `rate` of `frames` frames numbering themselves (with a sine at `tone` Hz, or silent)."""
    lum = f"if(mod(floor(N/pow(2,floor(X*{BITS}/W))),2),235,16)"
    args = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"color=black:s=176x96:r={rate_text(rate)},format=yuv420p,"
            f"geq=lum='{lum}':cb=128:cr=128,scale={W}:{H}:flags=neighbor"]
    if tone is not None:
        args += ["-f", "lavfi", "-i", f"sine=frequency={tone}:sample_rate=48000"]
    args += ["-frames:v", str(frames), "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-g", "25",
             "-pix_fmt", "yuv420p"]
    if tone is not None:
        args += ["-c:a", "aac", "-shortest"]
    subprocess.run([*args, str(path)], check=True, capture_output=True, timeout=120)


def _number(frame: av.VideoFrame) -> int:
    """The number a picture shows: the stripes' middles along its middle row."""
    plane = frame.reformat(format="gray").planes[0]
    width, height = frame.width, frame.height
    data = bytes(plane)
    row = data[(height // 2) * plane.line_size:(height // 2) * plane.line_size + width]
    value = 0
    for k in range(BITS):
        if row[int((k + 0.5) * width / BITS)] > 128:
            value |= 1 << k
    return value


def read_numbers(path: Path) -> list[int]:
    """The number each frame of a video file shows."""
    with av.open(str(path)) as container:
        return [_number(frame) for frame in container.decode(video=0)]


def read_picture_number(path: Path) -> int:
    """The number a still picture (a PNG screenshot of a player) shows."""
    with av.open(str(path)) as container:
        return _number(next(container.decode(video=0)))
