"""Timecode: frames at a rate, written as SMPTE ST 12 timecode. The one timecode path of docfilm.

Arithmetic and formatting come from OpenTimelineIO's `opentime` (RationalTime, from_timecode, to_timecode);
this module only decides *which* rate timecode counts at and whether it drops frames:

- Integer and NTSC rates (23.976, 29.97, 59.94 …) count at themselves; any other rate (a phone's variable
  rate average such as 60.06) counts at the nearest whole rate, as ffmpeg's drawtext and tmcd writer do.
- Drop-frame only at 29.97 and 59.94 (30000/1001, 60000/1001), and only when the start timecode is written
  with ';' before the frames, as the camera wrote it. Drop-frame skips frame numbers 00 and 01 (00–03 at
  59.94) at the start of every minute except every tenth, so that the timecode keeps to the wall clock.
- Above 60 fps SMPTE ST 12 has no frame numbers of its own: timecode counts at a base rate of at most 60
  (the rate divided by the smallest whole number that brings it to a timecode rate: 100 → 50, 120 → 60,
  240 → 60, 119.88 → 59.94, 90 → 30), as high-frame-rate cameras do, and each timecode frame holds that
  many frames of the clip (`frames_per_count`). The frame number (`frame`) tells the frames of one group apart. Review
  proxies are rendered at that base rate (see renders.proxy), so every proxy frame has its own timecode.
- Timecode wraps at 24 hours (opentime does that).
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from fractions import Fraction

from opentimelineio import opentime

from core.errors import BadInput

DEFAULT_TIMECODE = "00:00:00:00"
NTSC_RATES = frozenset(Fraction(n * 1000, 1001) for n in (24, 30, 48, 60, 120, 240))
DROP_FRAME_RATES = frozenset({Fraction(30000, 1001), Fraction(60000, 1001)})
# The highest rate SMPTE timecode (and opentime) numbers frames at; faster clips count in groups.
HIGHEST_COUNTING_RATE = 60
TIMECODE_SHAPE = re.compile(r"\d{2}:\d{2}:\d{2}[:;]\d{2}")


class InvalidTimecode(BadInput, ValueError):
    """A timecode that is not HH:MM:SS:FF (or HH:MM:SS;FF), or names a frame its rate does not have."""


@functools.lru_cache(maxsize=256)  # a film has a handful of rates, read thousands of times (Fraction is slow)
def parse_rate(text: str | None) -> Fraction | None:
    """A rate written "25/1", "30000/1001" or "25" as a Fraction; None when absent, zero or unreadable."""
    if not text:
        return None
    try:
        rate = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        return None
    return rate if rate > 0 else None


def rate_text(rate: Fraction) -> str:
    """A rate as "num/den" (25/1, 30000/1001): how ffmpeg and the ledger write it."""
    return f"{rate.numerator}/{rate.denominator}"


def _whole_or_ntsc(rate: Fraction) -> Fraction:
    if rate.denominator == 1 or rate in NTSC_RATES:
        return rate
    return Fraction(max(1, round(rate)))


@functools.lru_cache(maxsize=256)  # pure in its rate, and asked for each of thousands of clips
def frames_per_count(fps: Fraction) -> int:
    """How many frames of a clip at `fps` share one timecode frame: 1 up to 60 fps, 2 at 120, 4 at 240.

    The smallest group that brings the rate to one timecode numbers frames at (90 fps counts at 30, not 45).
    """
    rate = _whole_or_ntsc(fps)
    least = max(1, math.ceil(rate / HIGHEST_COUNTING_RATE))
    for group in range(least, least + HIGHEST_COUNTING_RATE):
        if has_timecode(_whole_or_ntsc(rate / group)):
            return group
    return least


def review_rate(fps: Fraction) -> Fraction:
    """The rate a clip is reviewed at: its own up to 60 fps, above that the rate its timecode counts at.

    Review proxies run at this rate (120 → 60), so the packet and reviewers' notes count its frames.
    """
    return fps / frames_per_count(fps)


@functools.lru_cache(maxsize=256)  # pure in its rate, and asked for each of thousands of clips
def counting_rate(fps: Fraction) -> Fraction:
    """The rate timecode counts at for a clip at `fps` (see the module's rules)."""
    return _whole_or_ntsc(_whole_or_ntsc(fps) / frames_per_count(fps))


@functools.lru_cache(maxsize=256)  # pure in its rate, and asked for each of thousands of clips
def has_timecode(rate: Fraction) -> bool:
    """Whether SMPTE timecode numbers frames at `rate` (a counting rate, see `counting_rate`)."""
    return bool(opentime.RationalTime.is_valid_timecode_rate(float(rate)))


@dataclass(frozen=True)
class Clock:
    """The source timecode of a clip's frames: `start` at frame 0 of a clip running at `fps`.

    `fps` is the clip's frame rate (for a proxy, the proxy's). Drop-frame follows `start` (';' at 29.97 or
    59.94). Raises InvalidTimecode when `start` is not a timecode at that rate.
    """

    fps: Fraction
    start: str = DEFAULT_TIMECODE

    def __post_init__(self) -> None:
        object.__setattr__(self, "fps", Fraction(self.fps))
        if self.fps <= 0:
            raise InvalidTimecode(f"frame rate {self.fps} must be positive")
        if not TIMECODE_SHAPE.fullmatch(self.start):
            raise InvalidTimecode(f"timecode {self.start!r} is not HH:MM:SS:FF or HH:MM:SS;FF")
        if self.drop_frame and self.rate not in DROP_FRAME_RATES:
            raise InvalidTimecode(
                f"timecode {self.start!r} is drop-frame (';'), which exists only at 29.97 and 59.94 fps"
            )
        if self.valid:
            try:
                opentime.from_timecode(self.start, float(self.rate))
            except ValueError as exc:
                raise InvalidTimecode(f"timecode {self.start!r} at {self.rate} fps: {exc}") from exc

    @property
    def drop_frame(self) -> bool:
        return ";" in self.start

    @property
    def rate(self) -> Fraction:
        """The rate the timecode counts at."""
        return counting_rate(self.fps)

    @property
    def per_count(self) -> int:
        """Frames of the clip per timecode frame (1 up to 60 fps)."""
        return frames_per_count(self.fps)

    @property
    def valid(self) -> bool:
        """Whether timecode exists at this clip's rate (it does not at, say, 45 fps)."""
        return has_timecode(self.rate)

    def _start_count(self) -> int:
        return round(opentime.from_timecode(self.start, float(self.rate)).value)

    def count(self, frame: int) -> int | None:
        """The timecode frame count (frames since 00:00:00:00 at `rate`) of the clip's `frame`."""
        if not self.valid or frame < 0:
            return None
        return self._start_count() + frame // self.per_count

    def at(self, frame: int) -> str | None:
        """Timecode of `frame` (0 = the clip's first frame); None at a rate without timecode or before frame 0."""
        count = self.count(frame)
        if count is None:
            return None
        return _format(count, self.rate, self.drop_frame)

    def length(self, frames: int) -> str | None:
        """A duration of `frames` as a non-drop timecode, or None at a rate without timecode."""
        if not self.valid or frames < 0:
            return None
        return _format(frames // self.per_count, self.rate, False)

    def frame_of(self, timecode: str) -> int | None:
        """The clip's first frame shown at `timecode` (the inverse of `at`); None at a rate without timecode."""
        if not self.valid:
            return None
        try:
            count = round(opentime.from_timecode(timecode, float(self.rate)).value)
        except ValueError as exc:
            raise InvalidTimecode(f"timecode {timecode!r} at {self.rate} fps: {exc}") from exc
        # A clip that runs past midnight starts again at 00:00:00:00.
        day = _frames_per_day(self.rate, self.drop_frame)
        return ((count - self._start_count()) % day) * self.per_count


def from_full_rate(text: str, fps: Fraction) -> str:
    """A timecode written at a clip's full rate above 60 fps (ffmpeg writes 120 fps as HH:MM:SS:FFF) as
    timecode at its counting rate (00:00:01:100 at 120 fps is 00:00:01:50). Raises InvalidTimecode."""
    match = re.fullmatch(r"(\d{2}):(\d{2}):(\d{2})[:;](\d{2,3})", text)
    nominal = round(fps)
    if match is None or int(match[4]) >= nominal:
        raise InvalidTimecode(f"timecode {text!r} is not HH:MM:SS:FF at {fps} fps")
    hours, minutes, seconds, frames = (int(part) for part in match.groups())
    count = ((hours * 60 + minutes) * 60 + seconds) * nominal + frames
    rate = counting_rate(fps)
    return _format(count // frames_per_count(fps), rate, False)


def _frames_per_day(rate: Fraction, drop_frame: bool) -> int:
    last = f"23:59:59{';' if drop_frame else ':'}{round(rate) - 1:02d}"
    return round(opentime.from_timecode(last, float(rate)).value) + 1


def _format(count: int, rate: Fraction, drop_frame: bool) -> str:
    # opentime wraps at 24 hours itself (23:59:59:24 + 1 frame is 00:00:00:00 at 25 fps).
    rate_f = float(rate)
    return str(opentime.to_timecode(opentime.RationalTime(count, rate_f), rate_f, drop_frame))


def source_timecode(start: str | None, frame: int, fps: Fraction | str | None) -> str | None:
    """The source timecode `frame` frames after `start` (00:00:00:00 when absent) of a clip at `fps`.

    `fps` may be written as the ledger does ("30000/1001"). None when the rate is unreadable or has no
    timecode, the frame is before the start, or `start` is not a timecode at that rate.
    """
    rate = parse_rate(fps) if isinstance(fps, str) or fps is None else fps
    if rate is None:
        return None
    try:
        clock = Clock(rate, start or DEFAULT_TIMECODE)
    except InvalidTimecode:
        return None
    return clock.at(frame)


def duration_timecode(frames: int, fps: Fraction) -> str | None:
    """A clip's length as timecode, drop-frame at 29.97 and 59.94 (as editors show NTSC durations)."""
    rate = counting_rate(fps)
    if not has_timecode(rate) or frames < 0:
        return None
    return _format(frames // frames_per_count(fps), rate, rate in DROP_FRAME_RATES)


def timecode_of_samples(samples: int, sample_rate: int, fps: Fraction) -> str | None:
    """The timecode of a recorder's time reference (samples since midnight), counted at `fps`.

    The count is rounded down: timecode names the frame the first sample falls in. Drop-frame at 29.97 and
    59.94, as NTSC recorders stamp it. None when timecode does not exist at `fps` or the input is unusable.
    """
    if samples < 0 or sample_rate <= 0:
        return None
    rate = counting_rate(fps)
    if not has_timecode(rate):
        return None
    # Exact rational arithmetic: float seconds drift by a frame on long time references.
    count = math.floor(Fraction(samples, sample_rate) * rate)
    return _format(count, rate, rate in DROP_FRAME_RATES)
