"""QC: the detectors' output parsed into runs and loudness, flags against the rules, and the real thing."""

from __future__ import annotations

import math
import re
from fractions import Fraction
from pathlib import Path

import pytest

from core.timecode import Clock
from renders.errors import QcUnreadable
from renders.flags import QcFlag, QcRules, qc_flags
from renders.measurements import Loudness, Measurements
from renders.picture import contact_sheet_frames
from renders.profile import QcProfile, RenderProfile
from renders.proxy import proxy_stream, render_proxy
from renders.qc import (
    QcFiles,
    loudness,
    measure,
    parse_metadata_print,
    silent_runs,
    video_runs,
)
from renders.runner import temp_path
from renders.settings import RendersSettings
from renders.source import ProxySource
from renders.synth_cases import make_qc_clip
from review.labels import qc_flag_label, qc_flag_text

SETTINGS = RendersSettings()  # read once, as a command does
FONT = Path("/fonts/DejaVuSans.ttf")
QC = QcProfile()
RATE = Fraction(25)

# As ffmpeg 9's metadata=print writes them (blackdetect, then freezedetect, on one chain).
VIDEO_PRINT = """\
frame:50   pts:50      pts_time:2
lavfi.black_start=2
frame:75   pts:75      pts_time:3
lavfi.freezedetect.freeze_start=2
frame:125  pts:125     pts_time:5
lavfi.black_end=5
lavfi.freezedetect.freeze_duration=3
lavfi.freezedetect.freeze_end=5
frame:180  pts:180     pts_time:7.2
lavfi.black_start=7.2
"""
SILENCE_PRINT = """\
frame:281  pts:287744  pts_time:5.994667
lavfi.silence_start=5.013729
frame:328  pts:335872  pts_time:6.997333
lavfi.silence_end=7.017875
lavfi.silence_duration=2.004146
"""
LOUDNESS_PRINT = """\
frame:78   pts:374400  pts_time:7.8
lavfi.r128.I=-23.300
lavfi.r128.true_peak=0.080
frame:79   pts:379200  pts_time:7.9
lavfi.r128.M=-22.986
lavfi.r128.S=-27.780
lavfi.r128.I=-23.219
lavfi.r128.LRA=4.800
lavfi.r128.true_peaks_ch0=0.079
lavfi.r128.true_peak=0.079
"""


def source(**changes: object) -> ProxySource:
    values: dict[str, object] = {
        "asset_id": "A1", "path": Path("/library/A1.mov"), "display_name": "Cảnh", "fps_num": 25, "fps_den": 1,
        "width": 1920, "height": 1080, "rotation": 0, "interlaced": False, "start_timecode": "10:00:00:00",
        "has_audio": True, "duration_frames": 250,
    }  # fmt: skip
    values.update(changes)
    return ProxySource(**values)  # type: ignore[arg-type]


def test_metadata_print_blocks() -> None:
    blocks = list(parse_metadata_print(VIDEO_PRINT))
    assert [b.index for b in blocks] == [50, 75, 125, 180]
    assert blocks[2].values["lavfi.freezedetect.freeze_end"] == "5"
    assert blocks[3].pts_time == 7.2
    with pytest.raises(QcUnreadable):
        list(parse_metadata_print("frame:x pts:1 pts_time:0\n"))


def test_black_runs_are_placed_by_frame_and_an_open_run_ends_with_the_clip() -> None:
    black, frozen, offset = video_runs(VIDEO_PRINT, RATE, 200, QC)
    assert [(r.start_frame, r.end_frame) for r in black] == [(50, 125), (180, 200)]
    # freezedetect only marks a run once it has lasted its minimum: placed by the value, not the frame.
    assert [(r.start_frame, r.end_frame) for r in frozen] == [(50, 125)]
    assert offset == 0


def test_runs_shorter_than_the_minimum_are_dropped() -> None:
    black, _frozen, _offset = video_runs(VIDEO_PRINT, RATE, 190, QcProfile(black_min_seconds=1.0))
    assert [(r.start_frame, r.end_frame) for r in black] == [(50, 125)]  # 180-190 is 0.4 s


def test_a_video_starting_late_on_the_clock_shifts_audio_times() -> None:
    # The first frame sits at 0.08 s (two frames): times become frame indexes from the clip's start.
    late = "frame:0    pts:2       pts_time:0.08\nlavfi.black_start=0.08\nframe:50   pts:52  pts_time:2.08\n" \
           "lavfi.black_end=2.08\n"  # fmt: skip
    black, _frozen, offset = video_runs(late, RATE, 100, QC)
    assert offset == 2 and [(r.start_frame, r.end_frame) for r in black] == [(0, 50)]
    silent = silent_runs(SILENCE_PRINT, RATE, 200, offset, QC)
    assert [(r.start_frame, r.end_frame) for r in silent] == [(123, 173)]


def test_silence_in_frames_and_timecode() -> None:
    runs = silent_runs(SILENCE_PRINT, RATE, 200, 0, QC)
    assert [(r.start_frame, r.end_frame) for r in runs] == [(125, 175)]
    clock = Clock(RATE, "10:00:00:00")
    assert runs[0].to_run(clock).to_json() == {
        "start_frame": 125, "end_frame": 175, "frames": 50, "rate": "25/1",
        "start": "10:00:05:00", "end": "10:00:07:00", "duration": "00:00:02:00",
    }  # fmt: skip


def test_loudness_totals_come_from_the_last_block() -> None:
    assert loudness(LOUDNESS_PRINT) == Loudness(integrated_lufs=-23.22, range_lu=4.8, true_peak_dbtp=-22.05)
    silent = LOUDNESS_PRINT.replace("true_peak=0.079", "true_peak=0.000")
    assert loudness(silent).true_peak_dbtp is None
    with pytest.raises(QcUnreadable, match="no measurement"):
        loudness("")
    with pytest.raises(QcUnreadable, match="incomplete"):
        loudness("frame:0 pts:0 pts_time:0\nlavfi.r128.M=-20\n")


def test_measure_reads_the_files_and_does_not_list_black_frames_as_frozen(tmp_path: Path) -> None:
    files = QcFiles.beside(tmp_path, "A1", video=True, audio=True)
    assert files.video == tmp_path / ".A1.qc-video.txt"
    assert files.video is not None and files.silence is not None and files.loudness is not None
    files.video.write_text(VIDEO_PRINT)
    files.silence.write_text(SILENCE_PRINT)
    files.loudness.write_text("frame:0 pts:0 pts_time:0\nlavfi.r128.I=-40\n" * 2000 + LOUDNESS_PRINT)
    measured = measure(files, RATE, 200, Clock(RATE, "10:00:00:00"), QC)
    assert [r.start for r in measured.black] == ["10:00:02:00", "10:00:07:05"]
    assert measured.frozen == ()  # the freeze was the black run
    assert measured.silent[0].start == "10:00:05:00"
    assert measured.loudness is not None
    assert measured.loudness.integrated_lufs == -23.22  # the last block, though the file is long
    files.remove()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(QcUnreadable, match="no QC file"):
        measure(files, RATE, 200, Clock(RATE, "10:00:00:00"), QC)


@pytest.mark.parametrize(
    ("start", "rate", "frame", "expected"),
    [
        ("10:00:00:00", Fraction(25), 75, "10:00:03:00"),
        ("01:00:59;29", Fraction(30000, 1001), 1, "01:01:00;02"),  # drop-frame skips ;00 and ;01
        ("01:00:59:29", Fraction(30000, 1001), 1, "01:01:00:00"),  # non-drop at 29.97 does not
        ("23:59:59:24", Fraction(25), 1, "00:00:00:00"),
    ],
)
def test_timecode_clock(start: str, rate: Fraction, frame: int, expected: str) -> None:
    assert Clock(rate, start).at(frame) == expected


def test_timecode_clock_at_a_rate_without_timecode() -> None:
    clock = Clock(Fraction(45), "00:00:00:00")  # no timecode numbers frames at 45 fps
    assert clock.at(10) is None and clock.length(10) is None


def _record(integrated: float = -23.0, peak: float | None = -6.0, black_frames: int = 0) -> Measurements:
    """Measurements as a stored QC record holds them (JSON), read back into records."""
    black = [{"start_frame": 50, "end_frame": 50 + black_frames, "frames": black_frames, "rate": "25/1",
              "start": "10:00:02:00", "end": "10:00:05:00", "duration": None}] if black_frames else []  # fmt: skip
    return Measurements.from_json({"loudness": {"integrated_lufs": integrated, "range_lu": 3.0, "true_peak_dbtp": peak},
                                   "black": black, "frozen": [], "silent": []})  # fmt: skip


def test_flags_follow_the_broadcast_rules() -> None:
    rules = QcRules()
    assert qc_flags(_record(), rules) == ()
    assert qc_flags(_record(integrated=-23.9), rules) == ()  # inside ±1 LU
    assert qc_flags(_record(integrated=-16.4), rules) == (QcFlag(rule="loudness", value=-16.4, limit=-22.0),)
    assert qc_flags(_record(integrated=-30), rules) == (QcFlag(rule="loudness", value=-30, limit=-24.0),)
    assert qc_flags(_record(peak=-0.5), rules) == (QcFlag(rule="true_peak", value=-0.5, limit=-1.0),)
    assert qc_flags(_record(peak=-1.0), rules) == ()  # the limit itself is allowed
    assert qc_flags(_record(black_frames=50), rules) == ()  # exactly 2 s is not longer than 2 s
    black = qc_flags(_record(black_frames=75), rules)
    assert black == (QcFlag(rule="black", value=3.0, limit=2.0, start_frame=50, end_frame=125, start="10:00:02:00",
                            end="10:00:05:00"),)  # fmt: skip
    assert qc_flags(Measurements(), rules) == ()
    assert QcFlag.from_json(black[0].to_json()) == black[0]


def test_flag_words_are_made_by_review_labels() -> None:
    rules = QcRules()
    (loud,) = qc_flags(_record(integrated=-16.4), rules)
    words = qc_flag_label(loud)
    assert "-16.4 LUFS" in words.vi and "QCVN 115:2017" in words.en and "above -22 LUFS" in words.en
    (black,) = qc_flags(_record(black_frames=75), rules)
    assert qc_flag_label(black).vi == "Hình đen 3.0 s 10:00:02:00–10:00:05:00 (> 2 s)"
    # A flag stored as text, before flags were records, keeps its own words.
    assert qc_flag_text({"rule": "black", "message": "Hình đen 3.0 s / black for 3.0 s"}).startswith("Hình đen")
    assert qc_flag_text(black.to_json()) == qc_flag_label(black).both()


def test_renders_says_nothing_in_words_for_people() -> None:
    # Bilingual text is made only by review.labels: no Vietnamese letters in renders' code.
    vietnamese = re.compile("[\u00c0-\u1ef9]")
    for path in (Path(__file__).parent.parent / "renders").glob("*.py"):
        found = [line for line in path.read_text(encoding="utf-8").splitlines()
                 if vietnamese.search(line.replace("×", ""))]  # fmt: skip
        assert found == [], f"{path.name}: {found}"


def test_rules_come_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCFILM_QC_BLACK_MAX_SECONDS", "5")
    monkeypatch.setenv("DOCFILM_QC_LOUDNESS_TOLERANCE_LU", "0.5")
    rules = QcRules.from_settings(RendersSettings())
    assert rules.black_max_seconds == 5 and rules.loudness_tolerance_lu == 0.5
    assert qc_flags(_record(black_frames=75), rules) == ()
    assert [f.rule for f in qc_flags(_record(integrated=-23.7), rules)] == ["loudness"]


def test_one_decode_feeds_proxy_poster_contact_sheet_and_detectors(tmp_path: Path) -> None:
    out = tmp_path / "A1.mp4"
    files = QcFiles.beside(tmp_path, "A1", video=True, audio=True)
    args = list(
        proxy_stream(source(), RenderProfile(), out, FONT, contact_sheet_path=tmp_path / "A1.sheet.jpg",
                     qc_files=files).get_args()
    )  # fmt: skip
    graph = args[args.index("-filter_complex") + 1]
    assert args.count("-i") == 1
    assert "asplit=2" in graph and graph.count("split=") == 3  # detectors | proxy, poster, sheet | audio
    assert "h=min(ih\\,180):w=min(iw\\,320)" in graph  # detectors see a small picture
    assert graph.index("blackdetect") < graph.index("freezedetect") < graph.index("metadata=")
    assert "silencedetect" in graph and "ebur128=dualmono=true:metadata=1:peak=true" in graph
    assert f"file={files.video}" in graph and f"file={files.loudness}" in graph
    assert "tile=layout=4x4" in graph and graph.count("eq(n\\,") == 16
    assert args[-3:] == ["-f", "null", "-"]
    assert str(temp_path(tmp_path / "A1.sheet.jpg")) in args


@pytest.mark.parametrize(
    ("frames", "expected"),
    [
        (5, [0, 1, 2, 3, 4]),  # fewer frames than cells: each once
        (16, list(range(16))),
        (160, [5 + 10 * i for i in range(16)]),
        (0, [25 * i for i in range(16)]),  # unknown length: one a second
    ],
)
def test_contact_sheet_frames_are_evenly_spaced(frames: int, expected: list[int]) -> None:
    assert contact_sheet_frames(source(duration_frames=frames), 16) == expected


@pytest.fixture(scope="module")
def faulty_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("qc")
    return make_qc_clip(folder / "faults.mp4", 9, black=(2, 5), frozen=(6, 8.5), silent=(3, 6), settings=SETTINGS)


@pytest.mark.slow
def test_black_frozen_silent_runs_are_found_at_their_timecodes(faulty_clip: Path, tmp_path: Path) -> None:
    src = source(path=faulty_clip, width=320, height=180, duration_frames=225)
    result = render_proxy(src, RenderProfile(), tmp_path, SETTINGS)
    qc = result.qc.to_json()  # as the ledger stores it, keys unchanged
    # The generated 3 s black segment: frames 50-125 at 25 fps, from 10:00:02:00.
    assert [(r["start"], r["end"], r["frames"]) for r in qc["black"]] == [("10:00:02:00", "10:00:05:00", 75)]
    assert len(qc["frozen"]) == 1
    frozen = qc["frozen"][0]
    # testsrc2 barely moves between two frames: freezedetect may start the run one frame early.
    assert abs(frozen["start_frame"] - 150) <= 1 and abs(frozen["end_frame"] - 212) <= 1
    assert [(r["start"], r["end"]) for r in qc["silent"]] == [("10:00:03:00", "10:00:06:00")]
    # 3 s black and 2.5 s frozen break the 2 s rules; 3 s of silence is under the 10 s rule.
    assert [f["rule"] for f in qc["flags"]] == ["black", "frozen"]
    black = result.qc.flags[0]
    assert (black.start_frame, black.end_frame, black.start, black.end) == (50, 125, "10:00:02:00", "10:00:05:00")
    assert (black.value, black.limit) == (3.0, 2.0)
    assert qc["rules"] == QcRules.from_settings(SETTINGS).to_json()
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"A1{s}" for s in (".jpg", ".mp4", ".sheet.jpg")]


@pytest.mark.slow
def test_a_minus_23_lufs_tone_measures_minus_23(tmp_path: Path) -> None:
    clip = make_qc_clip(tmp_path / "tone.mp4", 4, start_timecode=None, settings=SETTINGS)
    src = source(path=clip, width=320, height=180, duration_frames=100)
    result = render_proxy(src, RenderProfile(), tmp_path, SETTINGS)
    level = result.qc.measured.loudness
    assert level is not None and level.true_peak_dbtp is not None
    assert abs(level.integrated_lufs - (-23.0)) <= 0.5
    assert abs(level.true_peak_dbtp - (-23.0)) <= 1.0  # a sine's true peak is its peak
    assert result.qc.flags == () and result.qc.measured.black == () and result.qc.measured.silent == ()


@pytest.mark.slow
def test_a_hot_mix_is_flagged_for_loudness_and_true_peak(tmp_path: Path) -> None:
    clip = make_qc_clip(tmp_path / "hot.mp4", 2, tone_peak_dbfs=-0.3, start_timecode=None, settings=SETTINGS)
    src = source(path=clip, width=320, height=180, duration_frames=50)
    result = render_proxy(src, RenderProfile(), tmp_path, SETTINGS)
    level = result.qc.measured.loudness
    assert level is not None and level.true_peak_dbtp is not None
    assert level.integrated_lufs > -1.5 and level.true_peak_dbtp > -1.0
    assert sorted(f.rule for f in result.qc.flags) == ["loudness", "true_peak"]
    assert math.isclose(level.integrated_lufs, -0.3, abs_tol=0.6)
