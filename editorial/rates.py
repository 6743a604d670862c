"""The frame rates an editor names (`25`, `24000/1001`, `23.976`, `29.97`, `59.94`) as exact rationals."""

from __future__ import annotations

from fractions import Fraction

from core.timecode import has_timecode, parse_rate

from .errors import InvalidRate

# The usual names of the NTSC rates: what editors type, never what the rate is (23.976 ≠ 24000/1001).
NTSC_NAMES: dict[str, Fraction] = {
    "23.976": Fraction(24000, 1001), "23.98": Fraction(24000, 1001),
    "29.97": Fraction(30000, 1001), "47.952": Fraction(48000, 1001),
    "59.94": Fraction(60000, 1001), "119.88": Fraction(120000, 1001),
}


def cut_rate(text: str) -> Fraction:
    """`text` as a rate: an NTSC name means its rational; anything else must be a timecode rate as written."""
    cleaned = text.strip()
    rate = NTSC_NAMES.get(cleaned) or parse_rate(cleaned)
    if rate is None or not has_timecode(rate):
        names = ", ".join(NTSC_NAMES)
        raise InvalidRate(
            f"--rate {text!r} is not a timecode rate: give a whole rate such as 25 or 30, a rational such as "
            f"24000/1001, or one of {names}"
        )
    return rate


def exact_rate(rate: float) -> Fraction:
    """A float rate as OTIO stores it, back as the rational it stands for (29.97002997… → 30000/1001)."""
    for ntsc in NTSC_NAMES.values():
        if abs(rate - float(ntsc)) < 1e-3:
            return ntsc
    return Fraction(rate).limit_denominator(1001)
