"""Proxies rendered by the real ffmpeg from tiny generated clips, checked with PyAV."""

from __future__ import annotations

import os
import unicodedata
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import ffmpeg
import pytest

from renders.burnin import burn_text
from renders.errors import FfmpegFailed, RenderTimeout
from renders.outcome import PosterFacts
from renders.profile import RenderProfile
from renders.proxy import render_proxy
from renders.runner import run_ffmpeg, temp_path
from renders.settings import RendersSettings
from renders.source import ProxySource
from renders.synth import SUFFIXES, _top_level_boxes, make_broken_file, make_clip
from renders.tools import ffmpeg_exe, font_file

pytestmark = pytest.mark.slow

SETTINGS = RendersSettings()  # read once, as a command does


SIZE = (320, 180)
TIMECODES = {"prores_mov": "10:00:00:00", "h264_mp4": "01:02:03:04", "mpegts_1080i": "12:34:56:12"}
HOSTILE_NAME = "Phỏng vấn \"ông Tư\" — it's 10:30, 50% [a];b=c \\ x\\\\y %{pts} 'q'"
NO_BURN = RenderProfile(burn_name=False, burn_timecode=False)


def probe(path: Path) -> dict[str, Any]:
    """What an ingest probe would record, read with PyAV (frames counted by decoding)."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        assert video.average_rate is not None
        rate = Fraction(video.average_rate)
        timecode = next((s.metadata["timecode"] for s in container.streams if "timecode" in s.metadata), None)
        frames = list(container.decode(video=0))
        return {
            "width": frames[0].width,
            "height": frames[0].height,
            "fps": rate,
            "frames": len(frames),
            "rotation": int(frames[0].rotation or 0),
            "interlaced": bool(frames[0].interlaced_frame),
            "timecode": timecode,
            "has_audio": bool(container.streams.audio),
        }


def source_for(path: Path, asset_id: str, name: str = "Cảnh thử", timecode: str | None = "probe") -> ProxySource:
    facts = probe(path)
    return ProxySource(
        asset_id=asset_id,
        path=path,
        display_name=name,
        fps_num=facts["fps"].numerator,
        fps_den=facts["fps"].denominator,
        width=facts["width"],
        height=facts["height"],
        rotation=facts["rotation"],
        interlaced=facts["interlaced"],
        start_timecode=facts["timecode"] if timecode == "probe" else timecode,
        has_audio=facts["has_audio"],
        duration_frames=facts["frames"],
    )


def gray_rows(frame: av.VideoFrame) -> list[bytes]:
    gray = frame.reformat(format="gray")
    plane = gray.planes[0]
    data = bytes(plane)
    return [data[y * plane.line_size : y * plane.line_size + gray.width] for y in range(gray.height)]


def first_frame_rows(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return gray_rows(next(container.decode(video=0)))


def active_box(rows: list[bytes], threshold: int = 40) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the pixels brighter than the black padding."""
    lit_rows = [y for y, row in enumerate(rows) if max(row) > threshold]
    width = len(rows[0])
    lit_cols = [x for x in range(width) if any(rows[y][x] > threshold for y in lit_rows[::4])]
    return lit_cols[0], lit_rows[0], lit_cols[-1] + 1, lit_rows[-1] + 1


def mean(rows: list[bytes], left: int, top: int, right: int, bottom: int) -> float:
    values = [v for row in rows[top:bottom] for v in row[left:right]]
    return sum(values) / len(values)


def decode_errors(path: Path) -> str:
    """Everything ffmpeg complains about while decoding the whole file."""
    result = run_ffmpeg([ffmpeg_exe(SETTINGS), "-i", str(path), "-map", "0", "-f", "null", "-"], [], timeout_s=120)
    return result.stderr


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    return {
        kind: make_clip(folder / f"{kind}{SUFFIXES[kind]}", kind, f"Cần Thơ {kind}", 1, timecode, SIZE,
                        settings=SETTINGS)
        for kind, timecode in TIMECODES.items()
    }


@pytest.mark.parametrize("kind", sorted(TIMECODES))
def test_each_camera_format_proxies(kind: str, clips: dict[str, Path], tmp_path: Path) -> None:
    # MPEG-TS cannot carry a start timecode: the ledger's value (e.g. from a sidecar) is passed in.
    src = source_for(clips[kind], f"A-{kind}", timecode=TIMECODES[kind])
    result = render_proxy(src, RenderProfile(), tmp_path, SETTINGS, timeout_s=120)

    assert result.proxy == tmp_path / f"A-{kind}.mp4" and result.poster == tmp_path / f"A-{kind}.jpg"
    assert result.contact_sheet == tmp_path / f"A-{kind}.sheet.jpg"
    # Hidden temp and QC files are gone: only the three finals remain.
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"A-{kind}.jpg", f"A-{kind}.mp4", f"A-{kind}.sheet.jpg"]
    assert decode_errors(result.proxy) == ""
    out = probe(result.proxy)
    assert (out["width"], out["height"], out["rotation"], out["interlaced"]) == (960, 540, 0, False)
    assert out["timecode"] == TIMECODES[kind]
    assert out["fps"] == Fraction(25) and out["frames"] == 25
    with av.open(str(result.proxy)) as container:
        video = container.streams.video[0]
        assert video.codec_context.name == "h264" and video.codec_context.pix_fmt == "yuv420p"
        assert video.codec_context.profile == "High"
        audio = container.streams.audio[0].codec_context
        assert (audio.name, audio.sample_rate, audio.channels) == ("aac", 48000, 2)
        keyframes = [i for i, packet in enumerate(container.demux(video=0)) if packet.is_keyframe]
    assert keyframes[0] == 0 and all(b - a <= 25 for a, b in zip(keyframes, keyframes[1:] + [25], strict=True))
    boxes = [kind for kind, _offset, _size in _top_level_boxes(result.proxy.read_bytes())]
    assert boxes.index("moov") < boxes.index("mdat")  # faststart

    poster = probe(result.poster)
    assert (poster["width"], poster["height"]) == (480, 270)
    assert result.qc.facts.duration_frames == 25 and result.qc.facts.fps == "25/1"
    assert result.qc.facts.timecode == TIMECODES[kind] and result.qc.decode_errors == ()
    assert result.qc.facts.poster == PosterFacts(width=480, height=270, frame=12)


def combed_share(path: Path, threshold: int = 24) -> float:
    """Share of luma pixels in combing, averaged over the frames: a line brighter (or darker) than both lines
    around it by more than `threshold` levels, the zipper two fields shot at different instants leave on
    anything that moves. Measured on the pixels, not on the stream's interlaced flag.
    """
    shares = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            rows = gray_rows(frame)
            combed = sum(
                1
                for above, row, below in zip(rows, rows[1:], rows[2:], strict=False)
                for a, x, b in zip(above, row, below, strict=True)
                if (x - a > threshold and x - b > threshold) or (a - x > threshold and b - x > threshold)
            )
            shares.append(combed / (len(rows[0]) * (len(rows) - 2)))
    return sum(shares) / len(shares)


def test_interlaced_source_becomes_progressive_at_the_same_frame_rate(clips: dict[str, Path], tmp_path: Path) -> None:
    source = probe(clips["mpegts_1080i"])
    assert source["fps"] == Fraction(25)
    # The proxy frame is the source's size, so no scaling blurs combing away: what is measured is what the
    # deinterlacer did.
    same_size = RenderProfile(width=SIZE[0], height=SIZE[1], burn_name=False, burn_timecode=False)
    src = source_for(clips["mpegts_1080i"], "ts")
    assert src.interlaced
    result = render_proxy(src, same_size, tmp_path / "deinterlaced", SETTINGS)
    out = probe(result.proxy)
    assert out["fps"] == Fraction(25) and out["frames"] == source["frames"]
    # Controls: the same render without deinterlacing keeps the combing (so this test can fail), and the
    # progressive sample of the same moving pattern shows how much a clean picture "combs" by its edges.
    kept = render_proxy(replace(src, interlaced=False), same_size, tmp_path / "kept", SETTINGS)
    progressive = render_proxy(source_for(clips["h264_mp4"], "p"), same_size, tmp_path / "progressive", SETTINGS)
    combed, deinterlaced, clean = combed_share(kept.proxy), combed_share(result.proxy), combed_share(progressive.proxy)
    assert combed > 2 * clean, (combed, clean)
    assert deinterlaced < combed / 5 and deinterlaced <= clean * 1.5, (deinterlaced, combed, clean)


def test_source_without_timecode_gets_zero(clips: dict[str, Path], tmp_path: Path) -> None:
    src = source_for(clips["mpegts_1080i"], "no-tc")
    assert src.start_timecode is None  # MPEG-TS lost it
    assert probe(render_proxy(src, RenderProfile(), tmp_path, SETTINGS).proxy)["timecode"] == "00:00:00:00"


def test_drop_frame_timecode_survives(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "df.mp4", "h264_mp4", "29.97", 1, "01:00:00;00", SIZE, fps=Fraction(30000, 1001),
                     settings=SETTINGS)
    src = source_for(clip, "df")
    assert src.start_timecode == "01:00:00;00"
    result = render_proxy(src, RenderProfile(), tmp_path / "out", SETTINGS)
    assert result.qc.facts.timecode == "01:00:00;00" and result.qc.facts.fps == "30000/1001"


def test_burnt_in_text_sits_where_expected(clips: dict[str, Path], tmp_path: Path) -> None:
    src = source_for(clips["h264_mp4"], "burn")
    burnt = first_frame_rows(render_proxy(src, RenderProfile(), tmp_path / "burnt", SETTINGS).proxy)
    clean = first_frame_rows(render_proxy(src, NO_BURN, tmp_path / "clean", SETTINGS).proxy)

    def difference(left: int, top: int, right: int, bottom: int) -> float:
        """Mean absolute per-pixel difference over a region."""
        pairs = [
            (a, b) for y in range(top, bottom) for a, b in zip(burnt[y][left:right], clean[y][left:right], strict=True)
        ]
        return sum(abs(a - b) for a, b in pairs) / len(pairs)

    assert difference(16, 16, 100, 40) > 20  # name, top left
    assert difference(410, 500, 550, 524) > 20  # timecode, bottom centre
    assert difference(300, 150, 660, 400) < 2  # the picture itself is untouched


@pytest.mark.parametrize("rotation", [-90, 90, 180])
def test_rotated_phone_video_ends_up_upright_once(rotation: int, tmp_path: Path) -> None:
    # Upright picture: portrait, grey, with a white block in its top-left corner. It is stored turned so
    # that the display matrix (`rotation`) turns it back, the way phones record.
    stored_turn = {-90: ["transpose=cclock"], 90: ["transpose=clock"], 180: ["hflip", "vflip"]}[rotation]
    picture = ffmpeg.input(
        "color=c=gray:size=180x320:rate=25:duration=0.4", f="lavfi", display_rotation=rotation, noautorotate=None
    ).video.drawbox(0, 0, 60, 80, color="white", thickness="fill")
    for step in stored_turn:
        name, _, arg = step.partition("=")
        picture = picture.filter(name, arg) if arg else picture.filter(name)
    clip = tmp_path / "phone.mp4"
    args = ffmpeg.output(picture, str(clip), vcodec="libx264", pix_fmt="yuv420p").compile(cmd=ffmpeg_exe(SETTINGS))
    run_ffmpeg(args, [])
    src = source_for(clip, "phone")
    assert src.rotation % 360 == rotation % 360  # the test clip really carries the display matrix

    result = render_proxy(src, NO_BURN, tmp_path / "out", SETTINGS)
    assert result.qc.facts.rotation == 0 and probe(result.proxy)["rotation"] == 0
    rows = first_frame_rows(result.proxy)
    left, top, right, bottom = active_box(rows)
    assert bottom - top > right - left  # portrait
    assert abs((right - left) - 304) <= 4 and bottom - top == 540
    mid_x, mid_y = (left + right) // 2, (top + bottom) // 2
    top_left = mean(rows, left + 4, top + 4, mid_x - 4, mid_y - 4)
    others = [
        mean(rows, mid_x + 4, top + 4, right - 4, mid_y - 4),
        mean(rows, left + 4, mid_y + 4, mid_x - 4, bottom - 4),
        mean(rows, mid_x + 4, mid_y + 4, right - 4, bottom - 4),
    ]
    assert all(top_left > other + 30 for other in others)  # the white block is top left: upright


def test_odd_sized_source_is_fitted_and_padded(tmp_path: Path) -> None:
    clip = tmp_path / "odd.webm"
    picture = ffmpeg.input("color=c=gray:size=161x121:rate=25:duration=0.4", f="lavfi").video
    options = {"c:v": "libvpx-vp9", "deadline": "realtime", "cpu-used": 8, "pix_fmt": "yuv420p"}
    run_ffmpeg(ffmpeg.output(picture, str(clip), **options).compile(cmd=ffmpeg_exe(SETTINGS)), [])
    src = source_for(clip, "odd")
    assert (src.width, src.height) == (161, 121)

    result = render_proxy(src, NO_BURN, tmp_path / "out", SETTINGS)
    left, top, right, bottom = active_box(first_frame_rows(result.proxy))
    assert (result.qc.facts.width, result.qc.facts.height) == (960, 540)
    assert abs((right - left) - 718) <= 4 and bottom - top == 540  # 161:121 fitted to 540 high


def test_hostile_vietnamese_name_renders(clips: dict[str, Path], tmp_path: Path) -> None:
    name = unicodedata.normalize("NFD", HOSTILE_NAME)
    result = render_proxy(source_for(clips["h264_mp4"], "name", name=name), RenderProfile(), tmp_path, SETTINGS)
    with av.open(str(result.proxy)) as container:
        assert container.metadata["title"] == unicodedata.normalize("NFC", HOSTILE_NAME)


def test_escaped_name_draws_exactly_what_an_unescaped_text_file_draws(tmp_path: Path) -> None:
    # textfile= bypasses every escaping level: pixel-identical output proves the escaping is right.
    font = font_file(SETTINGS)
    style: dict[str, Any] = {"fontsize": 24, "x": "10", "y": "10"}

    def draw(out: Path, build: Any) -> bytes:
        canvas = ffmpeg.input("color=c=black:size=900x60:rate=1:duration=1", f="lavfi").video
        stream = ffmpeg.output(build(canvas), str(out), format="rawvideo", pix_fmt="gray", vframes=1)
        run_ffmpeg(stream.compile(cmd=ffmpeg_exe(SETTINGS)), [])
        return out.read_bytes()

    reference_text = tmp_path / "name.txt"
    reference_text.write_text(unicodedata.normalize("NFC", HOSTILE_NAME), encoding="utf-8")
    reference = draw(
        tmp_path / "reference.gray",
        lambda canvas: canvas.filter(
            "drawtext", textfile=str(reference_text), expansion="none", fontfile=str(font), fontcolor="white",
            box=1, boxcolor="black@0.55", boxborderw=6, **style,
        ),
    )  # fmt: skip
    escaped = draw(
        tmp_path / "escaped.gray",
        lambda canvas: burn_text(canvas, unicodedata.normalize("NFD", HOSTILE_NAME), font, **style),
    )
    shorter = draw(tmp_path / "shorter.gray", lambda canvas: burn_text(canvas, HOSTILE_NAME[:-1], font, **style))
    assert max(reference) > 200  # text was drawn
    assert escaped == reference
    assert shorter != reference  # the comparison can tell texts apart


def test_broken_input_fails_with_ffmpegs_reason_and_leaves_nothing(tmp_path: Path) -> None:
    broken = make_broken_file(tmp_path / "interrupted.mp4", settings=SETTINGS)
    src = ProxySource("broken", broken, "Hỏng", 25, 1, 320, 180, 0, False, None, True, 25)
    out_dir = tmp_path / "out"
    with pytest.raises(FfmpegFailed) as caught:
        render_proxy(src, RenderProfile(), out_dir, SETTINGS, timeout_s=60)
    assert "moov atom not found" in caught.value.stderr_tail
    assert caught.value.label == "broken" and caught.value.returncode != 0
    assert list(out_dir.iterdir()) == []


def test_stalled_source_times_out_and_leaves_nothing(tmp_path: Path) -> None:
    stalled = tmp_path / "stalled.mov"
    os.mkfifo(stalled)  # opening it blocks forever, like a hung network share
    src = ProxySource("stalled", stalled, "Treo", 25, 1, 320, 180, 0, False, None, True, 25)
    out_dir = tmp_path / "out"
    with pytest.raises(RenderTimeout):
        render_proxy(src, RenderProfile(), out_dir, SETTINGS, timeout_s=1)
    assert list(out_dir.iterdir()) == []


def test_progress_is_reported_in_frames(clips: dict[str, Path], tmp_path: Path) -> None:
    seen: list[int] = []
    render_proxy(source_for(clips["prores_mov"], "progress"), RenderProfile(), tmp_path, SETTINGS,
                 on_progress=seen.append)
    assert seen and seen == sorted(seen) and seen[-1] == 25


def test_rerender_replaces_the_old_proxy_atomically(clips: dict[str, Path], tmp_path: Path) -> None:
    src = source_for(clips["h264_mp4"], "again")
    first = render_proxy(src, RenderProfile(), tmp_path, SETTINGS)
    inode = first.proxy.stat().st_ino
    second = render_proxy(src, RenderProfile(crf=30), tmp_path, SETTINGS)
    assert second.proxy == first.proxy and second.proxy.stat().st_ino != inode  # renamed over, not rewritten
    assert not temp_path(second.proxy).exists() and not temp_path(second.poster).exists()
