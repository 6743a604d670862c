"""Probing what editors bring: clips made here by real ffmpeg in the formats cameras and recorders write."""

from __future__ import annotations

import struct
import subprocess
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import imageio_ffmpeg
import pytest

from assets_manifest.ingest import ingest
from assets_manifest.ledger import Ledger
from assets_manifest.probe import ProbeFailed, ProbeResult, probe
from assets_manifest.settings import LedgerSettings

SAMPLES = Path(__file__).parent / "fixtures" / "samples"
PICTURE = ["-f", "lavfi", "-i", "testsrc2=s=320x180:r=25:d=0.4"]
TONE = ["-f", "lavfi", "-i", "sine=f=440:r=48000:d=0.4"]


def ffmpeg(*args: str) -> None:
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", *args], check=True, timeout=120)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """Make each test clip once, on first use."""
    folder = tmp_path_factory.mktemp("probe")
    recipes: dict[str, list[str]] = {
        "op1a_mpeg2.mxf": [*PICTURE, *TONE, "-c:v", "mpeg2video", "-c:a", "pcm_s16le", "-timecode", "01:00:00:00",
                           "-f", "mxf"],
        "op1a_dnxhd.mxf": ["-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=25:d=0.2", "-c:v", "dnxhd", "-b:v", "36M",
                           "-pix_fmt", "yuv422p", "-f", "mxf"],
        "opatom_dnxhd.mxf": ["-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=25:d=0.2", "-c:v", "dnxhd", "-b:v", "36M",
                             "-pix_fmt", "yuv422p", "-f", "mxf_opatom"],
        "imx30_d10.mxf": ["-f", "lavfi", "-i", "testsrc2=s=720x608:r=25:d=0.2", *TONE, "-shortest",
                          "-c:v", "mpeg2video", "-pix_fmt", "yuv422p", "-g", "1", "-b:v", "30M", "-minrate", "30M",
                          "-maxrate", "30M", "-bufsize", "1200000", "-rc_init_occupancy", "1200000",
                          "-flags", "+ildct+ilme", "-c:a", "pcm_s16le", "-f", "mxf_d10"],
        "xavc_like_h264.mxf": [*PICTURE, "-c:v", "libx264", "-timecode", "10:00:00:00", "-f", "mxf"],
        "prores_tc.mov": [*PICTURE, "-c:v", "prores_aw", "-timecode", "09:59:58:00"],
        "vp8.webm": [*PICTURE, "-c:v", "libvpx", "-b:v", "200k"],
        "vp9.webm": [*PICTURE, "-c:v", "libvpx-vp9", "-b:v", "200k"],
        "av1.mkv": [*PICTURE, "-c:v", "libaom-av1", "-cpu-used", "8", "-crf", "50"],
        "hevc10_pq.mp4": [*PICTURE, "-c:v", "libx265", "-pix_fmt", "yuv420p10le", "-x265-params",
                          "log-level=error:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc"],
        "hevc10_hlg.mov": [*PICTURE, "-c:v", "libx265", "-pix_fmt", "yuv420p10le", "-x265-params",
                           "log-level=error:colorprim=bt2020:transfer=arib-std-b67:colormatrix=bt2020nc"],
        "vfr.mp4": ["-f", "lavfi", "-i", "testsrc2=s=160x90:r=25:d=2",
                    "-vf", "setpts='if(lt(N,25),N,25+(N-25)*3)/(25*TB)'", "-fps_mode", "passthrough",
                    "-c:v", "libx264"],
        "three_tracks.mov": [*PICTURE, *TONE, "-f", "lavfi", "-i", "sine=f=880:r=48000:d=0.4", "-f", "lavfi", "-i",
                             "sine=f=220:r=48000:d=0.4", "-map", "0", "-map", "1", "-map", "2", "-map", "3",
                             "-c:v", "libx264", "-c:a", "pcm_s24le"],
        # 10:00:00:00 at 48 kHz, the way field recorders stamp a take.
        "bwf_10h.wav": [*TONE, "-c:a", "pcm_s24le", "-write_bext", "1", "-metadata", "time_reference=1728000000",
                        "-metadata", "originator=Zoom F8"],
        # 01:00:01.5 = 90 001.5 s: frame 37.5 at 25 fps, so the take starts in frame 01:00:01:12.
        "bwf_half_frame.wav": [*TONE, "-c:a", "pcm_s24le", "-write_bext", "1",
                               "-metadata", f"time_reference={48000 * 3601 + 24000}"],
        "rf64.wav": [*TONE, "-c:a", "pcm_s24le", "-rf64", "always"],
        "tone.mp3": [*TONE, "-c:a", "libmp3lame"],
        "tone.aac": [*TONE, "-c:a", "aac"],
        "tone.m4a": [*TONE, "-c:a", "aac"],
        "still.png": [*PICTURE, "-frames:v", "1"],
        "still.jpg": [*PICTURE, "-frames:v", "1"],
    }

    def get(name: str) -> Path:
        path = folder / name
        if not path.exists():
            ffmpeg(*recipes[name], str(path))
        return path

    return get


def with_exif_orientation(jpeg: Path, orientation: int, out: Path) -> Path:
    """The JPEG with an APP1 EXIF segment holding only Orientation, as a phone camera writes it."""
    tiff = b"MM\x00\x2a" + struct.pack(">IH", 8, 1) + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) \
        + struct.pack(">I", 0)
    app1 = b"Exif\x00\x00" + tiff
    data = jpeg.read_bytes()
    out.write_bytes(data[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + data[2:])
    return out


@pytest.mark.parametrize(
    ("name", "codec", "pattern", "timecode", "tracks"),
    [
        ("op1a_mpeg2.mxf", "mpeg2video", "op1a", "01:00:00:00", 1),
        ("op1a_dnxhd.mxf", "dnxhd", "op1a", "00:00:00:00", 0),
        ("opatom_dnxhd.mxf", "dnxhd", "opatom", "00:00:00:00", 0),
        ("imx30_d10.mxf", "mpeg2video", "op1a", "00:00:00:00", 1),
        ("xavc_like_h264.mxf", "h264", "op1a", "10:00:00:00", 0),
    ],
)
def test_mxf(made: Callable[[str], Path], name: str, codec: str, pattern: str, timecode: str, tracks: int) -> None:
    r = probe(made(name))
    assert (r.kind, r.container, r.video_codec, r.mxf_pattern) == ("video", "mxf", codec, pattern)
    assert r.start_timecode == timecode and r.fps_text == "25/1" and len(r.audio_tracks) == tracks
    if name.startswith("imx"):
        assert (r.width, r.height, r.codec_profile) == (720, 608, "4:2:2") and r.interlaced


def test_mov_prores_with_timecode(made: Callable[[str], Path]) -> None:
    r = probe(made("prores_tc.mov"))
    assert (r.video_codec, r.bit_depth, r.start_timecode, r.duration_frames) == ("prores", 10, "09:59:58:00", 10)


@pytest.mark.parametrize(("name", "codec"), [("vp8.webm", "vp8"), ("vp9.webm", "vp9"), ("av1.mkv", "av1")])
def test_matroska_and_webm(made: Callable[[str], Path], name: str, codec: str) -> None:
    r = probe(made(name))
    assert (r.kind, r.container, r.video_codec, r.width, r.height) == ("video", "matroska,webm", codec, 320, 180)
    assert r.fps_text == "25/1" and r.duration_frames == 10


@pytest.mark.parametrize(("name", "hdr", "transfer"), [("hevc10_pq.mp4", "pq", "smpte2084"),
                                                        ("hevc10_hlg.mov", "hlg", "arib-std-b67")])
def test_hevc_10_bit_hdr_transfer(made: Callable[[str], Path], name: str, hdr: str, transfer: str) -> None:
    r = probe(made(name))
    assert (r.video_codec, r.bit_depth, r.codec_profile) == ("hevc", 10, "Main 10")
    assert (r.hdr, r.color_transfer, r.color_primaries, r.color_matrix) == (hdr, transfer, "bt2020", "bt2020nc")


def test_real_phone_hdr_and_sdr() -> None:
    iphone = probe(SAMPLES / "iphone_dolbyVision-hdr.MOV")
    assert (iphone.hdr, iphone.bit_depth, iphone.rotation) == ("hlg", 10, -90)
    android = probe(SAMPLES / "android_portrait_4k60.mp4")
    assert android.hdr is None and android.bit_depth == 8


def test_variable_frame_rate_and_several_audio_tracks(made: Callable[[str], Path]) -> None:
    vfr = probe(made("vfr.mp4"))
    assert vfr.vfr is True and vfr.fps_text == "25/1"
    multi = probe(made("three_tracks.mov"))
    assert [(t.codec, t.sample_rate) for t in multi.audio_tracks] == [("pcm_s24le", 48000)] * 3


def test_bwf_time_reference_is_start_timecode_at_the_film_rate(made: Callable[[str], Path]) -> None:
    r = probe(made("bwf_10h.wav"), Fraction(25))
    assert (r.kind, r.start_timecode, r.bwf_time_reference, r.fps_text) == ("audio", "10:00:00:00", 1728000000,
                                                                            "25/1")
    assert r.tags.get("encoded_by") == "Zoom F8" or r.tags.get("originator") == "Zoom F8"
    assert probe(made("bwf_half_frame.wav"), Fraction(25)).start_timecode == "01:00:01:12"


@pytest.mark.parametrize(
    ("film_rate", "duration_frames", "timecode"),
    [
        # 01:00:01.5 is frame 12 of its second at 24 fps and 25 at 50; at 30000/1001 it is drop-frame, as
        # NTSC recorders stamp it, which keeps to the wall clock (3601.5 s is frame 107937, 01:00:01;15).
        (Fraction(24), 10, "01:00:01:12"),
        (Fraction(30000, 1001), 12, "01:00:01;15"),
        (Fraction(50), 20, "01:00:01:25"),
    ],
)
def test_audio_counts_at_the_film_rate(
    made: Callable[[str], Path], film_rate: Fraction, duration_frames: int, timecode: str
) -> None:
    r = probe(made("bwf_half_frame.wav"), film_rate)
    assert (r.fps, r.duration_frames, r.start_timecode) == (film_rate, duration_frames, timecode)


def test_audio_without_a_film_rate_has_no_frames_but_keeps_its_time_reference(made: Callable[[str], Path]) -> None:
    r = probe(made("bwf_10h.wav"))
    assert (r.fps, r.duration_frames, r.start_timecode, r.bwf_time_reference) == (None, None, None, 1728000000)


@pytest.mark.parametrize(("name", "container", "codec"), [
    ("rf64.wav", "wav", "pcm_s24le"), ("tone.mp3", "mp3", "mp3float"), ("tone.aac", "aac", "aac"),
    ("tone.m4a", "mov,mp4,m4a,3gp,3g2,mj2", "aac"),
])
def test_audio_only(made: Callable[[str], Path], name: str, container: str, codec: str) -> None:
    r = probe(made(name), Fraction(25))
    assert (r.kind, r.container, r.start_timecode) == ("audio", container, None)
    assert r.audio_tracks[0].codec.startswith(codec[:3]) and r.duration_frames in (10, 11)


@pytest.mark.parametrize(("orientation", "rotation"), [(1, 0), (3, 180), (6, -90), (8, 90)])
def test_jpeg_exif_orientation(made: Callable[[str], Path], tmp_path: Path, orientation: int, rotation: int) -> None:
    jpeg = with_exif_orientation(made("still.jpg"), orientation, tmp_path / f"o{orientation}.jpg")
    r = probe(jpeg)
    assert (r.kind, r.rotation, r.fps, r.duration_frames) == ("still", rotation, None, None)


def test_png_still(made: Callable[[str], Path]) -> None:
    r = probe(made("still.png"))
    assert (r.kind, r.video_codec, r.width, r.height) == ("still", "png", 320, 180)


def test_reasons_a_producer_understands(made: Callable[[str], Path], tmp_path: Path) -> None:
    empty = tmp_path / "empty.mov"
    empty.write_bytes(b"")
    text = tmp_path / "notes.txt"
    text.write_text("Cần Thơ — ghi chú\n")
    noise = tmp_path / "noise.mov"
    noise.write_bytes(bytes(range(256)) * 64)
    whole = tmp_path / "whole.mp4"
    ffmpeg(*PICTURE, "-c:v", "libx264", str(whole))  # moov at the end, as cameras write it
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])  # the card was pulled while recording
    reasons = {}
    for path in (empty, text, noise, cut):
        with pytest.raises(ProbeFailed) as info:
            probe(path)
        reasons[path.name] = str(info.value)
    assert reasons["empty.mov"] == "zero-byte file"
    assert reasons["cut.mp4"].startswith("no moov atom: the recording was interrupted")
    assert reasons["notes.txt"].startswith("not a media file")
    assert reasons["noise.mov"].startswith("not a media file")
    assert all("Traceback" not in r for r in reasons.values())


def test_probe_facts_reach_the_ledger(made: Callable[[str], Path], tmp_path: Path) -> None:
    card = tmp_path / "card"
    card.mkdir()
    for name in ("hevc10_hlg.mov", "bwf_10h.wav", "opatom_dnxhd.mxf"):
        (card / name).write_bytes(made(name).read_bytes())
    ledger = Ledger.open(LedgerSettings(home=tmp_path / "home"))
    try:
        report = ingest([card], ledger, scene_ids=set(), library=tmp_path / "home" / "library",
                        film_rate=Fraction(25))
        assert len(report.ingested) == 3
        by_name = {a.name: a for a in ledger.assets()}
        assert by_name["hevc10_hlg.mov"].probe["hdr"] == "hlg"
        assert by_name["bwf_10h.wav"].start_timecode == "10:00:00:00"
        assert by_name["opatom_dnxhd.mxf"].probe["mxf_pattern"] == "opatom"
        assert set(ProbeResult.__dataclass_fields__) <= set(by_name["bwf_10h.wav"].probe)
    finally:
        ledger.close()
