"""Every kind of source gets its proxy: HDR, variable frame rate, several audio tracks, 8K, audio only, stills."""

from __future__ import annotations

from array import array
from fractions import Fraction
from pathlib import Path

import av
import pytest

from renders.errors import UnsupportedKind
from renders.profile import RenderProfile
from renders.proxy import render_proxy
from renders.render import render_source
from renders.settings import RendersSettings
from renders.source import ProxySource, inspect_source
from renders.synth import make_clip
from renders.synth_cases import make_hdr_clip, make_multitrack_clip, make_tone_file, make_vfr_clip

pytestmark = pytest.mark.slow

SETTINGS = RendersSettings()  # read once, as a command does


SAMPLES = Path(__file__).parent / "fixtures" / "samples"
NO_BURN = RenderProfile(burn_name=False, burn_timecode=False)


def source(path: Path, asset_id: str, **changes: object) -> ProxySource:
    values: dict[str, object] = {
        "asset_id": asset_id, "path": path, "display_name": path.name, "fps_num": 25, "fps_den": 1,
        "width": 320, "height": 180, "rotation": 0, "interlaced": False, "start_timecode": None,
        "has_audio": True, "duration_frames": 50,
    }  # fmt: skip
    values.update(changes)
    return ProxySource(**values)  # type: ignore[arg-type]


def rgb_rows(path: Path, index: int = 0) -> tuple[list[bytes], int, int]:
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                rgb = frame.reformat(format="rgb24")
                plane = rgb.planes[0]
                data = bytes(plane)
                rows = [data[y * plane.line_size : y * plane.line_size + rgb.width * 3] for y in range(rgb.height)]
                return rows, rgb.width, rgb.height
    raise AssertionError(f"{path} has no frame {index}")


def saturation(path: Path) -> float:
    """Mean of max(R,G,B) - min(R,G,B): how colourful a picture is (a washed-out picture scores low)."""
    rows, width, _height = rgb_rows(path)
    total = count = 0
    for row in rows[::2]:
        for x in range(0, width * 3, 6):
            pixel = row[x : x + 3]
            total += max(pixel) - min(pixel)
            count += 1
    return total / count


def luma_per_frame(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        out = []
        for frame in container.decode(video=0):
            plane = frame.reformat(format="gray").planes[0]
            data = bytes(plane)
            out.append(sum(data[:: 97]) / len(data[:: 97]))
        return out


def mono_samples(path: Path, rate: int = 48000) -> array:
    """The first audio stream decoded to mono 16-bit samples."""
    samples = array("h")
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                samples.frombytes(bytes(out.planes[0])[: out.samples * 2])
    return samples


def dominant_hz(samples: array, rate: int = 48000) -> float:
    """Frequency of a pure tone from its zero crossings."""
    crossings = sum(1 for a, b in zip(samples, samples[1:], strict=False) if (a < 0) != (b < 0))
    return crossings / 2 / (len(samples) / rate)


def test_hdr_hlg_is_tone_mapped_to_sdr_bt709_not_washed_out(tmp_path: Path) -> None:
    hdr = make_hdr_clip(tmp_path / "hlg.mov", settings=SETTINGS)
    sdr = make_clip(tmp_path / "sdr.mp4", "h264_mp4", "", 0.4, None, (320, 180), settings=SETTINGS)
    src = inspect_source(source(hdr, "hlg", has_audio=False, duration_frames=10))
    assert src.color_transfer == "arib-std-b67" and src.hdr

    mapped = render_proxy(src, NO_BURN, tmp_path / "mapped", SETTINGS)
    naive = render_proxy(source(hdr, "naive", has_audio=False, duration_frames=10), NO_BURN, tmp_path / "naive",
                         SETTINGS)
    reference = render_proxy(source(sdr, "sdr", duration_frames=10), NO_BURN, tmp_path / "sdr", SETTINGS)

    assert mapped.qc.tone_mapped_from == "arib-std-b67" and naive.qc.tone_mapped_from is None
    with av.open(str(mapped.proxy)) as container:
        video = container.streams.video[0].codec_context
        assert (video.color_trc, video.color_primaries, video.pix_fmt) == (1, 1, "yuv420p")  # BT.709, 8-bit
    # Shown as SDR without mapping, HLG loses most of its colour; mapped, it keeps most of the original's.
    assert saturation(naive.poster) < 0.5 * saturation(reference.poster)
    assert saturation(mapped.poster) > 0.7 * saturation(reference.poster)


def test_real_iphone_hlg_clip_is_mapped_upright(tmp_path: Path) -> None:
    clip = SAMPLES / "iphone_dolbyVision-hdr.MOV"
    src = inspect_source(source(clip, "iphone", fps_num=30, width=1280, height=720, rotation=-90,
                                duration_frames=5))  # fmt: skip
    result = render_proxy(src, RenderProfile(), tmp_path, SETTINGS)
    assert result.qc.tone_mapped_from == "arib-std-b67" and result.qc.facts.rotation == 0
    rows, width, height = rgb_rows(result.proxy)
    lit = [x for x in range(width) if max(rows[height // 2][3 * x : 3 * x + 3]) > 40]
    assert (width, height) == (960, 540) and lit[-1] - lit[0] < height  # portrait picture, upright, pillarboxed


def test_variable_frame_rate_becomes_constant_and_stays_in_sync(tmp_path: Path) -> None:
    clip = make_vfr_clip(tmp_path / "vfr.mp4", seconds=3, flash_at=2.0, fps=30, settings=SETTINGS)
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        assert stream.average_rate != stream.base_rate  # really variable
    result = render_proxy(source(clip, "vfr", fps_num=30, duration_frames=90), NO_BURN, tmp_path / "out", SETTINGS)
    with av.open(str(result.proxy)) as container:
        stream = container.streams.video[0]
        assert stream.average_rate is not None and Fraction(stream.average_rate) == 30
    lumas = luma_per_frame(result.proxy)
    assert len(lumas) == 90  # every frame of a 3 s clip at 30 fps, gaps filled
    flash_frame = next(i for i, y in enumerate(lumas) if y > 128)
    samples = mono_samples(result.proxy)
    beep_sample = next(i for i, v in enumerate(samples) if abs(v) > 500)
    flash_s, beep_s = flash_frame / 30, beep_sample / 48000
    assert abs(flash_s - 2.0) <= 1 / 30 and abs(beep_s - flash_s) <= 0.04  # sync within about a frame


def test_several_audio_tracks_first_or_mixed(tmp_path: Path) -> None:
    clip = make_multitrack_clip(tmp_path / "two-mics.mov", 2, tones_hz=(440, 1000), settings=SETTINGS)
    src = inspect_source(source(clip, "mics", start_timecode="10:00:00:00"))
    assert src.audio_streams == (1, 2)

    first = render_proxy(src, NO_BURN, tmp_path / "first", SETTINGS)
    assert 420 < dominant_hz(mono_samples(first.proxy)) < 460  # the first microphone only
    assert first.qc.audio_streams == (1, 2) and first.qc.audio_tracks == "first"

    mix = RenderProfile(burn_name=False, burn_timecode=False, audio_tracks="mix")
    mixed = render_proxy(src, mix, tmp_path / "mix", SETTINGS)
    # Two equal tones summed: twice the power, +3 LU.
    gain = mixed.qc.measured.loudness.integrated_lufs - first.qc.measured.loudness.integrated_lufs
    assert 2.5 < gain < 4.0

    second_only = render_proxy(source(clip, "second", audio_streams=(2,)), NO_BURN, tmp_path / "second", SETTINGS)
    assert 950 < dominant_hz(mono_samples(second_only.proxy)) < 1050


def test_8k_source_gets_a_proxy(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "8k.mp4", "h264_mp4", "8K", 0.12, "01:00:00:00", (7680, 4320), settings=SETTINGS)
    result = render_proxy(source(clip, "eightk", width=7680, height=4320, duration_frames=3,
                                 start_timecode="01:00:00:00"), RenderProfile(), tmp_path / "out",
                          SETTINGS)  # fmt: skip
    assert (result.qc.facts.width, result.qc.facts.height, result.qc.facts.duration_frames) == (960, 540, 3)
    assert result.qc.facts.timecode == "01:00:00:00"


def test_watermark_is_burnt_across_the_middle(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "c.mp4", "h264_mp4", "", 0.2, None, (320, 180), settings=SETTINGS)
    marked_profile = NO_BURN.model_copy(update={"watermark_text": "BẢN DUYỆT / REVIEW COPY"})
    assert marked_profile.profile_hash() != NO_BURN.profile_hash()
    marked_result = render_proxy(source(clip, "m", duration_frames=5), marked_profile, tmp_path / "m", SETTINGS)
    marked, _w, _h = rgb_rows(marked_result.proxy)
    clean_result = render_proxy(source(clip, "c", duration_frames=5), NO_BURN, tmp_path / "c", SETTINGS)
    clean, _w, _h = rgb_rows(clean_result.proxy)

    def difference(top: int, bottom: int) -> float:
        return sum(abs(a - b) for y in range(top, bottom, 2) for a, b in zip(marked[y], clean[y], strict=True)) / (
            (bottom - top) / 2 * len(marked[0])
        )

    assert difference(240, 300) > 4  # the middle band carries the text
    assert difference(0, 60) < 1 and difference(480, 540) < 1  # top and bottom untouched


def test_audio_only_gets_an_aac_proxy_a_waveform_and_loudness(tmp_path: Path) -> None:
    wav = make_tone_file(tmp_path / "take.wav", seconds=3, settings=SETTINGS)
    src = source(wav, "take", kind="audio", width=0, height=0, duration_frames=75, start_timecode="14:30:00:00")
    seen: list[int] = []
    result = render_source(src, RenderProfile(), tmp_path / "out", SETTINGS, on_progress=seen.append)
    assert result.proxy.name == "take.m4a" and result.poster.name == "take.jpg" and result.contact_sheet is None
    with av.open(str(result.proxy)) as container:
        audio = container.streams.audio[0].codec_context
        assert (audio.name, audio.sample_rate, audio.channels) == ("aac", 48000, 2)
        assert container.metadata.get("timecode") == "14:30:00:00"
    with av.open(str(result.poster)) as container:
        picture = next(container.decode(video=0))
        assert (picture.width, picture.height) == (480, 270)
    assert result.qc.kind == "audio" and result.qc.facts.duration_frames == 75
    assert abs(result.qc.measured.loudness.integrated_lufs + 23) <= 0.5 and result.qc.flags == ()
    assert seen and seen[-1] >= 70  # progress counted from the output time at 25 fps
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["take.jpg", "take.m4a"]


def test_still_gets_a_still_proxy_and_a_poster(tmp_path: Path) -> None:
    photo = SAMPLES / "iphone6s_tokyo.jpg"
    src = source(photo, "tokyo", kind="still", width=600, height=800, has_audio=False, duration_frames=1)
    result = render_source(src, RenderProfile(watermark_text="BẢN DUYỆT"), tmp_path, SETTINGS)
    assert result.proxy.name == "tokyo.proxy.jpg" and result.poster.name == "tokyo.jpg"
    rows, width, height = rgb_rows(result.proxy)
    assert (width, height) == (960, 540)
    lit = [x for x in range(width) if max(rows[height // 2][3 * x : 3 * x + 3]) > 30]
    assert abs((lit[-1] - lit[0]) - 405) <= 8  # 600x800 fitted to 540 high: 405 wide, portrait
    assert result.qc.kind == "still" and result.qc.flags == () and result.qc.measured.loudness is None


def test_unknown_kind_is_refused() -> None:
    src = source(Path("/x.bin"), "x")
    object.__setattr__(src, "kind", "document")
    with pytest.raises(UnsupportedKind, match="document"):
        render_source(src, RenderProfile(), Path("/nonexistent"), SETTINGS)
