"""Bilingual wording (Vietnamese first, English beside it) and time formatting shared by status and packet.

Timecode itself (rates, drop-frame, a clip's clock) is core.timecode's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from opentimelineio import opentime

from renders.flags import QcFlag


@dataclass(frozen=True)
class Label:
    """A phrase in Vietnamese with its English beside it."""

    vi: str
    en: str

    def both(self, sep: str = " / ") -> str:
        """Vietnamese, separator, English: for plain-text output such as terminal tables."""
        return f"{self.vi}{sep}{self.en}"


SCENE_STATES: dict[str, Label] = {
    "planned": Label("Dự kiến", "Planned"),
    "scripted": Label("Đã có kịch bản", "Scripted"),
    "shooting": Label("Đang ghi hình", "Shooting"),
    "shot": Label("Đã ghi hình", "Shot"),
    "editing": Label("Đang dựng", "Editing"),
    "review": Label("Đang duyệt", "In review"),
    "approved": Label("Đã duyệt", "Approved"),
}

SHOT_KINDS: dict[str, Label] = {
    "interview": Label("Phỏng vấn", "Interview"),
    "b-roll": Label("Cảnh minh họa", "B-roll"),
    "archive": Label("Tư liệu", "Archive"),
    "graphics": Label("Đồ họa", "Graphics"),
    "aerial": Label("Cảnh quay trên cao", "Aerial"),
}

CLIP_KINDS: dict[str, Label] = {
    "video": Label("Video", "Video"),
    "audio": Label("Âm thanh", "Audio"),
    "still": Label("Ảnh tĩnh", "Still"),
}

FACT_STATUSES: dict[str, Label] = {
    "target": Label("Chỉ tiêu", "Target"),
    "estimate": Label("Ước tính", "Estimate"),
    "actual": Label("Thực hiện", "Actual"),
}

MILESTONE_STATES: dict[str, Label] = {
    "upcoming": Label("Sắp đến hạn", "Upcoming"),
    "due-today": Label("Đến hạn hôm nay", "Due today"),
    "overdue": Label("Quá hạn", "Overdue"),
    "no-date": Label("Chưa có ngày", "No date"),
}

_EN_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def lookup(table: dict[str, Label], key: str) -> Label:
    """The label for `key`, or the key itself in both languages when the vocabulary lacks it."""
    return table.get(key, Label(key, key))


def date_label(day: date) -> Label:
    """A date as Vietnamese (31/05/2019) and English (31 May 2019) readers write it."""
    return Label(
        f"{day.day:02d}/{day.month:02d}/{day.year}", f"{day.day} {_EN_MONTHS[day.month - 1]} {day.year}"
    )


def days_left_label(days_left: int | None) -> Label:
    """'còn N ngày / N days left', 'đến hạn hôm nay / due today', 'quá hạn N ngày / N days overdue'."""
    if days_left is None:
        return MILESTONE_STATES["no-date"]
    if days_left == 0:
        return MILESTONE_STATES["due-today"]
    n = abs(days_left)
    plural = "day" if n == 1 else "days"
    if days_left > 0:
        return Label(f"còn {n} ngày", f"{n} {plural} left")
    return Label(f"quá hạn {n} ngày", f"{n} {plural} overdue")


def rate_label(rate: Fraction) -> str:
    """25 for 25/1, 29.97 for 30000/1001: how editors say a frame rate."""
    if rate.denominator == 1:
        return str(rate.numerator)
    return f"{float(rate):.3f}".rstrip("0").rstrip(".")


def frames_to_minutes_seconds(frames: int, fps: Fraction | int) -> str:
    """A duration as M:SS, rounded down to the whole second (planned lengths are whole seconds)."""
    rate = Fraction(fps)
    seconds = int(Fraction(frames) / rate)
    minutes, rest = divmod(seconds, 60)
    return f"{minutes}:{rest:02d}"


def rescale_frames(frames: int, rate: Fraction, to_fps: Fraction | int) -> int:
    """A frame count at `rate` expressed at `to_fps`, rounded to the nearest frame (via opentime)."""
    return round(opentime.RationalTime(frames, float(rate)).value_rescaled_to(float(to_fps)))


REVIEW_STATES: dict[str, Label] = {
    "approved": Label("Đã duyệt", "Approved"),
    "changes-requested": Label("Cần sửa", "Changes requested"),
    "no-review": Label("Chưa có ý kiến", "No review yet"),
}

VERDICTS: dict[str, Label] = {
    "comment": Label("Góp ý", "Comment"),
    "approve": Label("Duyệt", "Approve"),
    "changes-requested": Label("Cần sửa", "Changes requested"),
}

# Keyed by the QC rules (core.vocabulary.QcRule) renders flags.
QC_KINDS: dict[str, Label] = {
    "black": Label("Hình đen", "Black frames"),
    "frozen": Label("Hình đứng", "Frozen picture"),
    "silent": Label("Mất tiếng", "Silence"),
    "loudness": Label("Độ lớn âm thanh", "Loudness"),
    "true_peak": Label("Đỉnh thực", "True peak"),
    "decode": Label("Lỗi giải mã", "Decode errors"),
}
QCVN = "QCVN 115:2017/BTTTT"


def qc_flag_label(flag: QcFlag) -> Label:
    """A QC flag in words: what was measured against which limit, and where (timecodes, else frames)."""
    kind = lookup(QC_KINDS, flag.rule)
    if flag.rule == "loudness":
        above = flag.value > flag.limit
        return Label(
            f"{kind.vi} {flag.value:.1f} LUFS, {'trên' if above else 'dưới'} {flag.limit:g} LUFS ({QCVN})",
            f"integrated loudness {flag.value:.1f} LUFS, {'above' if above else 'below'} {flag.limit:g} LUFS ({QCVN})",
        )
    if flag.rule == "true_peak":
        return Label(
            f"{kind.vi} {flag.value:.1f} dBTP, vượt {flag.limit:g} dBTP ({QCVN})",
            f"true peak {flag.value:.1f} dBTP, above {flag.limit:g} dBTP ({QCVN})",
        )
    if flag.start:
        where_vi = where_en = f" {flag.start}–{flag.end}"
    elif flag.start_frame is not None:
        where_vi = f" (khung hình {flag.start_frame}–{flag.end_frame})"
        where_en = f" (frames {flag.start_frame}–{flag.end_frame})"
    else:
        where_vi = where_en = ""
    return Label(
        f"{kind.vi} {flag.value:.1f} s{where_vi} (> {flag.limit:g} s)",
        f"{kind.en} for {flag.value:.1f} s{where_en} (> {flag.limit:g} s)",
    )


def qc_flag_text(stored: Mapping[str, object]) -> str:
    """A flag as the ledger stores it, in words for a terminal (an older text flag keeps its message)."""
    try:
        return qc_flag_label(QcFlag.from_json(stored)).both()
    except ValueError:
        return str(stored.get("message") or stored.get("rule") or "")
