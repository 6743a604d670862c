"""Synthetic camera footage: each kind really is what it claims to be."""

from __future__ import annotations

import re
from pathlib import Path

import av
import pytest

from renders.runner import run_ffmpeg
from renders.settings import RendersSettings
from renders.synth import SUFFIXES, SYNTH_KINDS, _top_level_boxes, make_broken_file, make_clip
from renders.tools import ffmpeg_exe

pytestmark = pytest.mark.slow

SETTINGS = RendersSettings()  # read once, as a command does


EXPECTED = {
    # kind: (video codec, pixel format, audio codec, interlaced, timecode kept)
    "prores_mov": ("prores", "yuv422p10le", "pcm_s24le", False, True),
    "h264_mp4": ("h264", "yuv420p", "aac", False, True),
    "mpegts_1080i": ("h264", "yuv420p", "mp2", True, False),
    "phone_portrait_mp4": ("h264", "yuv420p", "aac", False, True),
}


@pytest.mark.parametrize("kind", SYNTH_KINDS)
def test_clip_kinds(kind: str, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / f"clip{SUFFIXES[kind]}", kind, "Đại hội XIV", 1, "10:00:00:00", (320, 180),
                     settings=SETTINGS)
    assert [p.name for p in tmp_path.iterdir()] == [clip.name]
    vcodec, pix_fmt, acodec, interlaced, keeps_timecode = EXPECTED[kind]
    with av.open(str(clip)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0].codec_context
        timecode = next((s.metadata["timecode"] for s in container.streams if "timecode" in s.metadata), None)
        assert (video.codec_context.name, video.codec_context.pix_fmt) == (vcodec, pix_fmt)
        assert (audio.name, audio.sample_rate, audio.channels) == (acodec, 48000, 2)
        frames = list(container.decode(video=0))
    assert len(frames) == 25
    assert frames[0].interlaced_frame == interlaced
    assert timecode == ("10:00:00:00" if keeps_timecode else None)
    if kind == "phone_portrait_mp4":
        assert (frames[0].width, frames[0].height, frames[0].rotation) == (320, 180, -90)
    else:
        assert (frames[0].width, frames[0].height, frames[0].rotation) == (320, 180, 0)


def test_tone_measures_about_minus_23_lufs(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "tone.mp4", "h264_mp4", "Âm chuẩn", 3, None, (160, 90), settings=SETTINGS)
    result = run_ffmpeg(
        [ffmpeg_exe(SETTINGS), "-i", str(clip), "-map", "0:a", "-af", "ebur128", "-f", "null", "-"], [], loglevel="info"
    )
    integrated = float(re.findall(r"I:\s+(-?[\d.]+) LUFS", result.stderr)[-1])
    assert -24.0 < integrated < -22.0


def test_broken_file_is_an_mp4_cut_before_its_index(tmp_path: Path) -> None:
    broken = make_broken_file(tmp_path / "broken.mp4", settings=SETTINGS)
    data = broken.read_bytes()
    boxes = [kind for kind, _offset, _size in _top_level_boxes(data)]
    assert boxes[0] == "ftyp" and "mdat" in boxes and "moov" not in boxes
    assert [p.name for p in tmp_path.iterdir()] == ["broken.mp4"]
    with pytest.raises(av.InvalidDataError):
        av.open(str(broken))
