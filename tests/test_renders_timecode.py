"""Timecode and rate through a real render: interlaced PAL, NTSC drop-frame, and high frame rates.

Each clip is made here by the bundled ffmpeg, probed as ingest probes it, turned into a render source by
the flows' own mapping, and rendered; the proxy is then read back with PyAV and measured with ffmpeg.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import pytest
from probe_support import asset_for

from assets_manifest.store import Asset
from flows.steps import proxy_source
from renders.outcome import ProxyResult
from renders.profile import RenderProfile
from renders.render import render_source
from renders.settings import RendersSettings
from renders.tools import ffmpeg_exe

pytestmark = pytest.mark.slow

FILM_RATE = Fraction(25)
SETTINGS = RendersSettings()  # read once, as a command does


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(SETTINGS), "-v", "error", "-y", *args], check=True, timeout=300, capture_output=True)


def has_encoder(name: str) -> bool:
    listed = subprocess.run([ffmpeg_exe(SETTINGS), "-hide_banner", "-encoders"], capture_output=True, text=True,
                            timeout=60)
    return re.search(rf"^\s*V\S*\s+{re.escape(name)}\s", listed.stdout, re.M) is not None


def render(path: Path, out: Path, profile: RenderProfile) -> tuple[Asset, ProxyResult]:
    asset = asset_for(path, FILM_RATE)
    return asset, render_source(proxy_source(asset, FILM_RATE), profile, out, SETTINGS, timeout_s=300)


def read_back(path: Path) -> tuple[Fraction, int, str | None, int]:
    """(average rate, frames decoded, tmcd timecode, rotation of the first frame) of a rendered proxy."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        assert video.average_rate is not None
        timecode = next((s.metadata["timecode"] for s in container.streams if "timecode" in s.metadata), None)
        frames = list(container.decode(video=0))
        return Fraction(video.average_rate), len(frames), timecode, int(frames[0].rotation or 0)


def combed_frames(path: Path) -> tuple[int, int]:
    """(interlaced, progressive) frames by ffmpeg's idet multi-frame detection: it measures combing."""
    done = subprocess.run([ffmpeg_exe(SETTINGS), "-hide_banner", "-i", str(path), "-an", "-vf", "idet", "-f", "null",
                           "-"],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    # ffmpeg may print a first, empty report from configuring the graph: the last one counts.
    found = re.findall(r"Multi frame detection: TFF:\s*(\d+) BFF:\s*(\d+) Progressive:\s*(\d+)", done.stderr)
    assert found, done.stderr[-2000:]
    tff, bff, progressive = (int(g) for g in found[-1])
    return tff + bff, progressive


# --------------------------------------------------------------------------------------------- 1080i50
@pytest.fixture(scope="module")
def interlaced_mov(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1 s of 1080i50 (25 frames, top field first) in a MOV with a start timecode, as a broadcast camera writes.

    The fields are 1/50 s apart on a fast-moving picture, so a frame woven from two fields combs.
    """
    path = tmp_path_factory.mktemp("pal") / "C0001_1080i50.mov"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=50:d=1,scroll=h=0.02",
           "-vf", "interlace=scan=tff:lowpass=0,setfield=tff", "-c:v", "libx264", "-preset", "ultrafast",
           "-crf", "18", "-flags", "+ildct+ilme", "-x264-params", "tff=1", "-field_order", "tt",
           "-pix_fmt", "yuv420p", "-timecode", "10:00:00:00", str(path))  # fmt: skip
    return path


def test_1080i50_is_deinterlaced_to_25_frames_a_second_with_its_timecode(interlaced_mov: Path, tmp_path: Path) -> None:
    # Full size, so that the measurement of combing is not blurred away by the downscale.
    full = RenderProfile(width=1920, height=1080, contact_sheet=False, burn_name=False)
    asset, result = render(interlaced_mov, tmp_path / "deinterlaced", full)
    assert (asset.field_order, asset.fps_num, asset.fps_den, asset.start_timecode) == ("tt", 25, 1, "10:00:00:00")
    rate, frames, timecode, _ = read_back(result.proxy)
    assert rate == 25 and frames == asset.duration_frames == 25  # one frame per frame, none doubled or lost
    assert timecode == "10:00:00:00" and result.qc.to_json()["timecode"] == "10:00:00:00"

    combed_source, _ = combed_frames(interlaced_mov)
    combed_proxy, progressive_proxy = combed_frames(result.proxy)
    assert combed_source >= 20, "the test clip itself must comb, or this measures nothing"
    assert combed_proxy <= 2 and progressive_proxy >= 20

    # The same render without the deinterlacer combs as the source does: the measurement can tell.
    woven = proxy_source(asset, FILM_RATE)
    woven_result = render_source(replace(woven, interlaced=False), full, tmp_path / "woven", SETTINGS, timeout_s=300)
    assert combed_frames(woven_result.proxy)[0] >= 20


# ------------------------------------------------------------------------------------ 29.97 drop-frame
@pytest.fixture(scope="module")
def drop_frame_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 s at 29.97 (90 frames) from 00:00:59;28, black from frame 30 to 59: it crosses the first minute."""
    path = tmp_path_factory.mktemp("ntsc") / "A001_2997df.mov"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x180:r=30000/1001,trim=end_frame=90",
           "-vf", "drawbox=c=black:t=fill:enable='between(n,30,59)'", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", "-timecode", "00:00:59;28", str(path))  # fmt: skip
    return path


def test_drop_frame_render_names_frames_across_the_minute(drop_frame_clip: Path, tmp_path: Path) -> None:
    asset, result = render(drop_frame_clip, tmp_path, RenderProfile())
    assert (asset.fps_num, asset.fps_den) == (30000, 1001)
    assert (asset.start_timecode, asset.duration_frames) == ("00:00:59;28", 90)
    rate, frames, timecode, _ = read_back(result.proxy)
    assert (rate, frames, timecode) == (Fraction(30000, 1001), 90, "00:00:59;28")

    # Frames 0 and 1 are 00:00:59;28 and ;29; frame 2 is 00:01:00;02 (;00 and ;01 are dropped), so the
    # black run from frame 30 (00:01:00;02 + 28 = 00:01:01;00) to 60 starts and ends on whole seconds.
    [black] = result.qc.to_json()["black"]
    assert (black["start_frame"], black["end_frame"], black["rate"]) == (30, 60, "30000/1001")
    assert (black["start"], black["end"], black["duration"]) == ("00:01:01;00", "00:01:02;00", "00:00:01:00")

    cells = {cell["frame"]: cell["timecode"] for cell in result.qc.to_json()["contact_sheet_cells"]}
    assert sorted(cells) == [2, 8, 14, 19, 25, 30, 36, 42, 47, 53, 59, 64, 70, 75, 81, 87]
    assert cells[2] == "00:01:00;02" and cells[8] == "00:01:00;08" and cells[30] == "00:01:01;00"
    assert cells[59] == "00:01:01;29" and cells[87] == "00:01:02;27"


# -------------------------------------------------------------------------------------- high frame rates
@pytest.fixture(scope="module")
def hfr(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """1 s clips at 100, 120 and 240 fps, as slow-motion phones and cameras record them.

    120: HEVC (when this ffmpeg has an encoder for it), stored sideways with a 90° display matrix, every
    seventh frame missing, so its timestamps are variable-rate, like a phone's. 100 and 240: H.264 in a MOV
    with a start timecode written at the full rate (ffmpeg reads 240 fps timecode back as HH:MM:SS:FFF).
    """
    folder = tmp_path_factory.mktemp("hfr")
    clips = {100: folder / "C100.mov", 120: folder / "PXL_120.mp4", 240: folder / "C240.mov"}
    for fps, start in ((100, "01:00:00:00"), (240, "00:00:10:00")):
        ffmpeg("-f", "lavfi", "-i", f"testsrc2=s=320x180:r={fps}:d=1", "-c:v", "libx264", "-preset", "ultrafast",
               "-pix_fmt", "yuv420p", "-timecode", start, str(clips[fps]))  # fmt: skip
    codec = ["-c:v", "libx265", "-x265-params", "log-level=error"] if has_encoder("libx265") else ["-c:v", "libx264"]
    ffmpeg("-display_rotation", "90", "-noautorotate", "-f", "lavfi", "-i", "testsrc2=s=320x180:r=120:d=1",
           "-f", "lavfi", "-i", "sine=f=440:r=48000:d=1",
           "-vf", "select='not(eq(mod(n,7),3))'", "-fps_mode", "passthrough", *codec, "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(clips[120]))  # fmt: skip
    return clips


@pytest.mark.parametrize(
    ("fps", "proxy_rate", "start", "one_second"),
    [(100, 50, "01:00:00:00", "01:00:01:00"), (120, 60, "00:00:00:00", "00:00:01:00"),
     (240, 60, "00:00:10:00", "00:00:11:00")],
)
def test_high_frame_rates_get_a_proxy_at_the_rate_timecode_counts_at(
    hfr: dict[int, Path], tmp_path: Path, fps: int, proxy_rate: int, start: str, one_second: str
) -> None:
    asset, result = render(hfr[fps], tmp_path, RenderProfile())
    assert Fraction(asset.fps_num or 0, asset.fps_den or 1) == fps
    assert asset.start_timecode == (None if fps == 120 else start)
    rate, frames, timecode, rotation = read_back(result.proxy)
    assert rate == proxy_rate and timecode == start and rotation == 0
    assert abs(frames - proxy_rate) <= 1  # one second of picture, every proxy frame its own timecode
    assert result.qc.to_json()["fps"] == f"{proxy_rate}/1"
    cells = result.qc.to_json()["contact_sheet_cells"]
    assert len(cells) == 16 and all(len(c["timecode"]) == 11 for c in cells)  # HH:MM:SS:FF, never :FFF
    src = proxy_source(asset, FILM_RATE)
    assert src.clock.at(proxy_rate) == one_second
    if fps == 120:
        assert asset.probe["vfr"] is True and abs(asset.rotation) == 90
        assert (result.qc.to_json()["width"], result.qc.to_json()["height"]) == (960, 540)
        assert result.qc.to_json()["audio"] is not None
