"""Pure tests of the ffmpeg graphs renders builds: arguments only, no ffmpeg run."""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest

from renders.burnin import drawtext_safe
from renders.errors import InvalidSource
from renders.picture import poster_frame_index
from renders.profile import RenderProfile
from renders.proxy import proxy_stream
from renders.runner import temp_path
from renders.source import ProxySource
from renders.synth import SUFFIXES, SYNTH_KINDS, clip_stream

FONT = Path("/fonts/DejaVuSans.ttf")
OUT = Path("/renders/proxies/A1.mp4")


def make_source(**changes: object) -> ProxySource:
    base = ProxySource(
        asset_id="A1",
        path=Path("/library/day1/A001C003.mov"),
        display_name="Phỏng vấn",
        fps_num=25,
        fps_den=1,
        width=1920,
        height=1080,
        rotation=0,
        interlaced=False,
        start_timecode="10:00:00:00",
        has_audio=True,
        duration_frames=250,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def args_for(src: ProxySource | None = None, profile: RenderProfile | None = None) -> list[str]:
    return list(proxy_stream(src or make_source(), profile or RenderProfile(), OUT, FONT).get_args())


def filter_graph(args: list[str]) -> str:
    return args[args.index("-filter_complex") + 1]


def proxy_options(args: list[str]) -> dict[str, str]:
    """Options of the proxy output (those before its file name), flag -> value."""
    end = args.index(str(temp_path(OUT)))
    start = args.index("-filter_complex") + 2
    chunk = args[start:end]
    return {chunk[i]: chunk[i + 1] for i in range(0, len(chunk) - 1, 2) if chunk[i] != "-map"}


def poster_options(args: list[str]) -> dict[str, str]:
    start = args.index(str(temp_path(OUT))) + 1
    chunk = args[start:-1]
    return {chunk[i]: chunk[i + 1] for i in range(0, len(chunk) - 1, 2)}


def test_picture_is_fitted_by_display_aspect_and_padded_to_the_profile_frame() -> None:
    graph = filter_graph(args_for())
    assert "scale=flags=bicubic:h=if(gte(dar\\,960/540)" in graph
    assert "format=yuv420p" in graph and "setsar=1" in graph
    assert "pad=960:540:(ow-iw)/2:(oh-ih)/2:color=black" in graph
    assert graph.index("scale=") < graph.index("pad=") < graph.index("split=")
    assert "fast_bilinear" not in graph

    other = filter_graph(args_for(profile=RenderProfile(width=1280, height=720, scale_flags="lanczos")))
    assert "pad=1280:720:" in other and "flags=lanczos" in other


def test_interlaced_source_is_deinterlaced_one_frame_per_frame_before_scaling() -> None:
    graph = filter_graph(args_for(make_source(interlaced=True)))
    assert "bwdif=deint=all:mode=send_frame:parity=auto" in graph
    assert graph.index("bwdif") < graph.index("fps=") < graph.index("scale=")

    assert "bwdif" not in filter_graph(args_for(make_source(interlaced=False)))
    yadif = filter_graph(args_for(make_source(interlaced=True), RenderProfile(deinterlace_filter="yadif")))
    assert "yadif=deint=all:mode=send_frame" in yadif and "bwdif" not in yadif


def test_output_keeps_the_source_rate_at_constant_frame_rate() -> None:
    assert "fps=fps=30000/1001" in filter_graph(args_for(make_source(fps_num=30000, fps_den=1001)))


def test_source_timecode_is_burnt_in_and_written_as_metadata() -> None:
    args = args_for(make_source(start_timecode="10:00:00:00"))
    graph = filter_graph(args)
    # ffmpeg-python escapes the colons for the filter's option and graph levels.
    assert "timecode=10\\\\:00\\\\:00\\\\:00:timecode_rate=25/1" in graph
    assert proxy_options(args)["-timecode"] == "10:00:00:00"


def test_source_without_timecode_starts_at_zero() -> None:
    args = args_for(make_source(start_timecode=None))
    assert "timecode=00\\\\:00\\\\:00\\\\:00" in filter_graph(args)
    assert proxy_options(args)["-timecode"] == "00:00:00:00"


def test_drop_frame_timecode_counts_at_the_ntsc_rate() -> None:
    args = args_for(make_source(fps_num=30000, fps_den=1001, start_timecode="01:00:00;00"))
    graph = filter_graph(args)
    assert "timecode=01\\\\:00\\\\:00\\;00:timecode_rate=30000/1001" in graph
    assert proxy_options(args)["-timecode"] == "01:00:00;00"


@pytest.mark.parametrize(
    ("fps", "start", "expected"),
    [
        (Fraction(25), "10:00:00:00", Fraction(25)),
        (Fraction(30000, 1001), "10:00:00:00", Fraction(30000, 1001)),
        (Fraction(30000, 1001), "10:00:00;00", Fraction(30000, 1001)),
        (Fraction(60000, 1001), "10:00:00;00", Fraction(60000, 1001)),
        (Fraction(810000, 13487), "10:00:00:00", Fraction(60)),  # a phone's variable-rate average
        (Fraction(120), "10:00:00:00", Fraction(60)),  # above 60 fps: the base rate (core.timecode)
    ],
)
def test_timecode_rate(fps: Fraction, start: str, expected: Fraction) -> None:
    src = make_source(fps_num=fps.numerator, fps_den=fps.denominator, start_timecode=start)
    assert src.timecode_rate == expected


@pytest.mark.parametrize(
    ("fps", "proxy_fps", "gop"),
    [(Fraction(100), "50/1", "50"), (Fraction(120), "60/1", "60"), (Fraction(240), "60/1", "60"),
     (Fraction(120000, 1001), "60000/1001", "59")],
)
def test_high_frame_rates_are_proxied_at_the_rate_timecode_counts_at(fps: Fraction, proxy_fps: str, gop: str) -> None:
    args = args_for(make_source(fps_num=fps.numerator, fps_den=fps.denominator, start_timecode="01:00:00:00"))
    graph = filter_graph(args)
    assert f"fps=fps={proxy_fps}" in graph
    assert f"timecode=01\\\\:00\\\\:00\\\\:00:timecode_rate={proxy_fps}" in graph
    assert proxy_options(args)["-g"] == gop and proxy_options(args)["-timecode"] == "01:00:00:00"


@pytest.mark.parametrize(
    ("timecode", "fps_num", "fps_den"),
    [
        ("10:00:00:25", 25, 1),  # frame 25 does not exist at 25 fps
        ("01:00:00;00", 25, 1),  # drop-frame only exists at 29.97/59.94
        ("1:00:00:00", 25, 1),
        ("ten o'clock", 25, 1),
    ],
)
def test_bad_start_timecode_is_rejected(timecode: str, fps_num: int, fps_den: int) -> None:
    with pytest.raises(InvalidSource, match="A1"):
        make_source(start_timecode=timecode, fps_num=fps_num, fps_den=fps_den)


@pytest.mark.parametrize("asset_id", ["", "../etc", ".hidden", "a/b", "ab\n"])
def test_asset_ids_that_would_escape_the_output_folder_are_rejected(asset_id: str) -> None:
    with pytest.raises(InvalidSource):
        make_source(asset_id=asset_id)


def test_clip_name_is_drawn_literally_nfc_and_escaped_for_the_filtergraph() -> None:
    name = unicodedata.normalize("NFD", "Cần Thơ a'b:c%d\\e")
    args = args_for(make_source(display_name=name))
    graph = filter_graph(args)
    nfc = unicodedata.normalize("NFC", "Cần Thơ ")
    # option level escapes ' : \ ; graph level escapes \ ' again; % needs nothing with expansion=none.
    assert f"text={nfc}a\\\\\\'b\\\\:c%d\\\\\\\\e:" in graph
    assert "expansion=none" in graph
    assert f"fontfile={FONT}" in graph
    assert proxy_options(args)["-metadata"] == "title=" + unicodedata.normalize("NFC", name)


def test_drawtext_safe_flattens_control_characters_and_shortens_long_names() -> None:
    assert drawtext_safe("a\nb\tc\x00d") == "a b c d"
    long = drawtext_safe("Đ" * 200, max_chars=20)
    assert len(long) == 20 and long.endswith("…")


def test_both_outputs_go_to_hidden_temp_names_next_to_the_finals() -> None:
    args = args_for()
    assert "/renders/proxies/.A1.tmp.mp4" in args
    assert "/renders/proxies/.A1.tmp.jpg" in args
    assert str(OUT) not in args and "/renders/proxies/A1.jpg" not in args
    assert temp_path(Path("/x/y.mp4")) == Path("/x/.y.tmp.mp4")


def test_proxy_encoding_follows_the_profile() -> None:
    options = proxy_options(args_for())
    assert options["-f"] == "mp4"
    assert options["-c:v"] == "libx264"
    assert options["-preset"] == "veryfast"
    assert options["-crf"] == "26"
    assert options["-x264-params"] == "me=dia:subme=1"
    assert options["-profile:v"] == "high"
    assert options["-pix_fmt"] == "yuv420p"
    assert options["-movflags"] == "+faststart"
    assert options["-map_metadata"] == "-1"
    assert options["-metadata:s:v:0"] == "rotate=0"
    assert RenderProfile().profile_hash() in options["-metadata:g"]


@pytest.mark.parametrize(
    ("fps_num", "fps_den", "gop"),
    [(25, 1, 25), (30000, 1001, 29), (24000, 1001, 23), (50, 1, 50), (60, 1, 60)],
)
def test_gop_is_at_most_one_second_of_source_frames(fps_num: int, fps_den: int, gop: int) -> None:
    args = args_for(make_source(fps_num=fps_num, fps_den=fps_den, start_timecode=None))
    assert proxy_options(args)["-g"] == str(gop)
    assert RenderProfile(gop_seconds=0.5).gop_frames(Fraction(25)) == 12


def test_audio_is_aac_48k_stereo_only_when_the_source_has_audio() -> None:
    with_audio = args_for(make_source(has_audio=True))
    assert "0:a:0" in with_audio
    options = proxy_options(with_audio)
    assert (options["-c:a"], options["-ar"], options["-ac"], options["-b:a"]) == ("aac", "48000", "2", "128k")

    silent = args_for(make_source(has_audio=False))
    assert "0:a:0" not in silent and "-c:a" not in silent


def test_rotation_is_left_to_ffmpeg_autorotate_not_applied_twice() -> None:
    for rotation in (-90, 90, 180):
        args = args_for(make_source(rotation=rotation))
        graph = filter_graph(args)
        assert "transpose" not in graph and "hflip" not in graph and "vflip" not in graph
        assert "-noautorotate" not in args and "-display_rotation" not in args
        assert proxy_options(args)["-metadata:s:v:0"] == "rotate=0"


@pytest.mark.parametrize(("frames", "index"), [(250, 25), (50, 25), (25, 12), (1, 0), (0, 0)])
def test_poster_frame_is_one_second_in_or_the_middle_of_short_clips(frames: int, index: int) -> None:
    assert poster_frame_index(make_source(duration_frames=frames)) == index


def test_poster_comes_from_the_same_decode_as_a_jpeg_of_poster_width() -> None:
    args = args_for(make_source(duration_frames=250))
    graph = filter_graph(args)
    assert "split=2" in graph
    assert "trim=end_frame=26" in graph
    assert "scale=480:270:flags=bicubic:out_range=full" in graph
    options = poster_options(args)
    assert (options["-f"], options["-c:v"], options["-update"]) == ("image2", "mjpeg", "1")
    assert args.count("-i") == 1


def test_nothing_burnt_in_needs_no_drawtext_and_no_font() -> None:
    profile = RenderProfile(burn_name=False, burn_timecode=False)
    graph = filter_graph(list(proxy_stream(make_source(), profile, OUT, None).get_args()))
    assert "drawtext" not in graph
    with pytest.raises(ValueError, match="font"):
        proxy_stream(make_source(), RenderProfile(), OUT, None)


@pytest.mark.parametrize("kind", SYNTH_KINDS)
def test_synthetic_clip_graphs(kind: str) -> None:
    out = Path(f"/demo/clip{SUFFIXES[kind]}")
    args = list(clip_stream(out, kind, "Cần Thơ", 2, "10:00:00:00", (320, 180), 25, font=FONT).get_args())
    graph = filter_graph(args)
    assert str(temp_path(out)) == args[-1]
    assert "testsrc2=size=" in args[args.index("-i") + 1]
    assert "drawtext" in graph and "expansion=none" in graph
    assert args[args.index("-timecode") + 1] == "10:00:00:00"
    assert args[args.index("-frames:v") + 1] == "50"
    codec = args[args.index("-c:v") + 1]
    if kind == "prores_mov":
        assert codec == "prores_aw" and args[args.index("-pix_fmt") + 1] == "yuv422p10le"
        assert args[args.index("-c:a") + 1] == "pcm_s24le"
    else:
        assert codec == "libx264"
    if kind == "mpegts_1080i":
        assert "interlace=scan=tff" in graph
        assert args[args.index("-flags") + 1] == "+ildct+ilme"
        assert args[args.index("-field_order") + 1] == "tt"
        assert "rate=50/1" in args[args.index("-i") + 1]  # fields sampled at twice the frame rate
    if kind == "phone_portrait_mp4":
        assert "transpose=cclock" in graph
        assert args[args.index("-display_rotation") + 1] == "-90"
        assert "testsrc2=size=180x320" in args[args.index("-i") + 1]


def test_hdr_source_is_tone_mapped_after_downscaling() -> None:
    graph = filter_graph(args_for(make_source(color_transfer="smpte2084")))
    chain = ["scale=flags=bicubic", "zscale=npl=100:t=linear", "format=gbrpf32le", "zscale=p=bt709",
             "tonemap=desat=0:tonemap=mobius", "zscale=m=bt709:r=tv:t=bt709", "format=yuv420p"]  # fmt: skip
    positions = [graph.index(step) for step in chain]
    assert positions == sorted(positions)
    assert "zscale" not in filter_graph(args_for(make_source(color_transfer=None)))
    assert "tonemap=hable" in filter_graph(args_for(make_source(color_transfer="arib-std-b67"),
                                                    RenderProfile(tone_map="hable")))  # fmt: skip


def test_watermark_is_drawn_translucent_in_the_middle() -> None:
    graph = filter_graph(args_for(profile=RenderProfile(watermark_text="BẢN DUYỆT: không phát sóng")))
    assert "text=BẢN DUYỆT\\\\: không phát sóng:" in graph  # the colon escaped for both graph levels
    assert "fontcolor=white@0.3" in graph and "y=(h-text_h)/2" in graph
    assert graph.count("drawtext") == 3
    assert filter_graph(args_for()).count("drawtext") == 2


def test_audio_track_choice() -> None:
    assert "0:2" in args_for(make_source(audio_streams=(2, 3)))
    mixed = args_for(make_source(audio_streams=(2, 3)), RenderProfile(audio_tracks="mix"))
    assert "amix=duration=longest:inputs=2:normalize=0" in filter_graph(mixed)
    single = args_for(make_source(audio_streams=(2,)), RenderProfile(audio_tracks="mix"))
    assert "amix" not in filter_graph(single) and "0:2" in single


def test_audio_and_still_graphs() -> None:
    from renders.audio import audio_proxy_stream
    from renders.qc import QcFiles
    from renders.still import still_proxy_stream

    src = make_source(kind="audio", path=Path("/library/take.wav"), start_timecode="14:30:00:00")
    files = QcFiles.beside(Path("/renders"), "A1", video=False, audio=True)
    args = list(audio_proxy_stream(src, RenderProfile(), Path("/renders/A1.m4a"), Path("/renders/A1.jpg"),
                                   files).get_args())  # fmt: skip
    graph = filter_graph(args)
    assert "asplit=3" in graph and "showwavespic=colors=0x9fd3ff:s=480x270:scale=sqrt" in graph
    assert "blackdetect" not in graph and "ebur128" in graph
    assert args[args.index("-movflags") + 1] == "+faststart+use_metadata_tags"
    assert args[args.index("-timecode") + 1] == "14:30:00:00"

    still = make_source(kind="still", path=Path("/library/photo.jpg"), has_audio=False)
    args = list(still_proxy_stream(still, RenderProfile(), Path("/r/A1.proxy.jpg"), Path("/r/A1.jpg"), FONT)
                .get_args())  # fmt: skip
    graph = filter_graph(args)
    assert "pad=960:540" in graph and graph.count("drawtext") == 1  # the name, no timecode on a still
    assert args.count("-frames:v") == 2
