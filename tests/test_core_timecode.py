"""core.timecode: drop-frame, NTSC rates, the 24-hour wrap, high frame rates, recorder time references."""

from __future__ import annotations

from fractions import Fraction

import pytest

from core.errors import BadInput
from core.timecode import (
    Clock,
    InvalidTimecode,
    counting_rate,
    duration_timecode,
    frames_per_count,
    parse_rate,
    rate_text,
    review_rate,
    source_timecode,
    timecode_of_samples,
)

NTSC30 = Fraction(30000, 1001)
NTSC60 = Fraction(60000, 1001)
NTSC24 = Fraction(24000, 1001)


@pytest.mark.parametrize(
    ("fps", "start", "frame", "expected"),
    [
        # 29.97 drop-frame: the tenth minute keeps ;00 and ;01, the others skip them.
        (NTSC30, "00:09:59;29", 1, "00:10:00;00"),
        (NTSC30, "00:00:59;29", 1, "00:01:00;02"),
        (NTSC30, "00:00:59;28", 4, "00:01:00;04"),
        (NTSC30, "23:59:59;29", 1, "00:00:00;00"),  # the 24-hour wrap
        (NTSC30, "00:00:00;00", 17982, "00:10:00;00"),  # ten drop-frame minutes are 17982 frames
        # 29.97 written non-drop counts every number.
        (NTSC30, "00:00:59:29", 1, "00:01:00:00"),
        # 59.94 drop-frame skips four numbers a minute.
        (NTSC60, "00:00:59;59", 1, "00:01:00;04"),
        (NTSC60, "00:09:59;59", 1, "00:10:00;00"),
        (NTSC60, "23:59:59;59", 1, "00:00:00;00"),
        (NTSC60, "00:00:00;00", 35964, "00:10:00;00"),
        # 23.976 has no drop-frame: frame 24 is one timecode second.
        (NTSC24, "00:00:00:00", 24, "00:00:01:00"),
        (NTSC24, "00:59:59:23", 1, "01:00:00:00"),
        (Fraction(25), "23:59:59:24", 1, "00:00:00:00"),
        (Fraction(25), "10:00:00:00", 75, "10:00:03:00"),
        (Fraction(50), "00:00:00:49", 1, "00:00:01:00"),
    ],
)
def test_clock(fps: Fraction, start: str, frame: int, expected: str) -> None:
    clock = Clock(fps, start)
    assert clock.at(frame) == expected
    assert clock.frame_of(expected) == frame
    assert source_timecode(start, frame, rate_text(fps)) == expected


@pytest.mark.parametrize(
    ("fps", "rate", "group"),
    [
        (Fraction(100), Fraction(50), 2),
        (Fraction(120), Fraction(60), 2),
        (Fraction(240), Fraction(60), 4),
        (Fraction(120000, 1001), NTSC60, 2),
        (Fraction(90), Fraction(30), 3),  # 45 fps has no timecode; 30 does
        (Fraction(60), Fraction(60), 1),
        (Fraction(810000, 13487), Fraction(60), 1),  # a phone's variable-rate average counts at 60
        (Fraction(25), Fraction(25), 1),
    ],
)
def test_high_frame_rates_count_at_a_base_rate_in_groups(fps: Fraction, rate: Fraction, group: int) -> None:
    assert counting_rate(fps) == rate
    assert frames_per_count(fps) == group
    clock = Clock(fps)
    assert clock.rate == rate and clock.valid
    # Each frame of a group shares its timecode; the next group has the next number.
    assert {clock.at(n) for n in range(group)} == {"00:00:00:00"}
    assert clock.at(group) == "00:00:00:01"
    one_second = round(fps)
    assert clock.at(one_second) == "00:00:01:00"
    assert clock.length(one_second) == "00:00:01:00"


def test_120_fps_clock_never_writes_three_digit_frames() -> None:
    clock = Clock(Fraction(120), "01:00:00:00")
    stamps = [clock.at(n) for n in range(0, 120 * 3)]
    assert all(s is not None and len(s) == 11 for s in stamps)
    assert stamps[119] == "01:00:00:59" and stamps[120] == "01:00:01:00"


@pytest.mark.parametrize(
    ("fps", "start"),
    [
        (Fraction(25), "10:00:00:25"),  # frame 25 does not exist at 25 fps
        (Fraction(25), "01:00:00;00"),  # drop-frame only exists at 29.97/59.94
        (Fraction(24000, 1001), "01:00:00;00"),
        (Fraction(25), "1:00:00:00"),
        (Fraction(120), "00:00:00:000"),  # ffmpeg's way of writing 120 fps, not timecode
        (Fraction(25), "ten o'clock"),
    ],
)
def test_bad_timecode_is_refused(fps: Fraction, start: str) -> None:
    with pytest.raises(InvalidTimecode) as caught:
        Clock(fps, start)
    assert isinstance(caught.value, BadInput) and caught.value.exit_code == 2
    assert source_timecode(start, 0, fps) is None


def test_rates_without_timecode_give_none() -> None:
    clock = Clock(Fraction(45))
    assert not clock.valid and clock.at(10) is None and clock.length(10) is None
    assert source_timecode(None, 3, "bad") is None and source_timecode(None, -1, "25/1") is None


def test_durations_are_drop_frame_at_ntsc_rates() -> None:
    assert duration_timecode(1878, Fraction(25)) == "00:01:15:03"
    assert duration_timecode(1800, NTSC30) == "00:01:00;02"
    assert duration_timecode(240, Fraction(240)) == "00:00:01:00"


def test_parse_rate() -> None:
    assert parse_rate("30000/1001") == NTSC30 and parse_rate("25") == 25
    assert parse_rate("0/1") is None and parse_rate(None) is None and parse_rate("x") is None
    assert rate_text(NTSC30) == "30000/1001" and rate_text(Fraction(25)) == "25/1"


@pytest.mark.parametrize(
    ("samples", "sample_rate", "fps", "expected"),
    [
        (1728000000, 48000, Fraction(25), "10:00:00:00"),  # 10 h after midnight
        (1728000000 + 1919, 48000, Fraction(25), "10:00:00:00"),  # rounded down to the frame the sample is in
        (1728000000 + 1920, 48000, Fraction(25), "10:00:00:01"),
        (1728000000, 48000, Fraction(24), "10:00:00:00"),
        (48000 * 600, 48000, NTSC30, "00:10:00;00"),  # 600 s of wall clock is 10 drop-frame minutes
        (48000 * 3600, 48000, NTSC30, "01:00:00;00"),  # drop-frame keeps to the wall clock for an hour too
        (48000 * 86400, 48000, Fraction(25), "00:00:00:00"),  # midnight wraps
    ],
)
def test_recorder_time_reference(samples: int, sample_rate: int, fps: Fraction, expected: str) -> None:
    assert timecode_of_samples(samples, sample_rate, fps) == expected


def test_review_rate_is_the_proxy_rate() -> None:
    assert review_rate(Fraction(120)) == 60 and review_rate(Fraction(240)) == 60 and review_rate(Fraction(100)) == 50
    assert review_rate(Fraction(120000, 1001)) == NTSC60 and review_rate(NTSC30) == NTSC30
    # A note on proxy frame 61 of a 120 fps clip starting at 01:00:00:00 names 01:00:01:01.
    assert source_timecode("01:00:00:00", 61, review_rate(Fraction(120))) == "01:00:01:01"


def test_drop_frame_is_refused_at_a_whole_30_as_the_packet_refuses_it() -> None:
    # SMPTE drop-frame exists only at 29.97 and 59.94; a clip tagged 30/1 with ';' is not counted as 29.97.
    with pytest.raises(InvalidTimecode, match="29.97"):
        Clock(Fraction(30), "01:00:00;00")
