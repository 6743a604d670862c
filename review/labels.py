"""Bilingual wording (Vietnamese first, English beside it) and time formatting shared by status and packet.

Timecode itself (rates, drop-frame, a clip's clock) is core.timecode's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from fractions import Fraction
from typing import Literal, TypeVar, cast, get_args

from opentimelineio import opentime

from core.vocabulary import MediaKind, QcRule, ReviewState, Verdict
from renders.flags import QcFlag

# The language a reader asked for; None shows Vietnamese with English beside it.
Lang = Literal["vi", "en"]
LANGS: tuple[Lang, ...] = get_args(Lang)


@dataclass(frozen=True)
class Label:
    """A phrase in Vietnamese with its English beside it."""

    vi: str
    en: str

    def both(self, sep: str = " / ") -> str:
        """Vietnamese, separator, English: for plain-text output such as terminal tables."""
        return f"{self.vi}{sep}{self.en}"

    def text(self, lang: Lang | None = None, sep: str = " / ") -> str:
        """One language ("vi" or "en"), or both (None) as `both` gives them."""
        if lang == "vi":
            return self.vi
        if lang == "en":
            return self.en
        return self.both(sep)


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

CLIP_KINDS: dict[MediaKind, Label] = {
    "video": Label("Video", "Video"),
    "audio": Label("Âm thanh", "Audio"),
    "still": Label("Ảnh tĩnh", "Still"),
}

FACT_STATUSES: dict[str, Label] = {
    "target": Label("Chỉ tiêu", "Target"),
    "estimate": Label("Ước tính", "Estimate"),
    "preliminary": Label("Sơ bộ", "Preliminary"),
    "actual": Label("Thực hiện", "Actual"),
}

FIGURE_RESULTS: dict[str, Label] = {
    "contradicts": Label("Mâu thuẫn với số liệu", "Contradicts the figures"),
    "unsourced": Label("Chưa có nguồn", "Unsourced"),
    "status-mismatch": Label("Chỉ tiêu/ước tính nêu như đã đạt", "Target or estimate stated as achieved"),
    "not-yet-known": Label("Chưa công bố tại ngày này", "Not yet known on this date"),
    "sourced": Label("Có nguồn", "Sourced"),
}

MILESTONE_STATES: dict[str, Label] = {
    "upcoming": Label("Sắp đến hạn", "Upcoming"),
    "due-today": Label("Đến hạn hôm nay", "Due today"),
    "overdue": Label("Quá hạn", "Overdue"),
    "no-date": Label("Chưa có ngày", "No date"),
}

# Vietnam keeps UTC+7 all year, so a fixed offset needs no tz database.
VIETNAM_TIME = timezone(timedelta(hours=7), "ICT")

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


_Key = TypeVar("_Key", bound=str)


def lookup(table: Mapping[_Key, Label], key: str) -> Label:
    """The label for `key`, or the key itself in both languages when the vocabulary lacks it."""
    # Any text may be looked up (a ledger row, a newer docfilm's word); an unknown one shows as written.
    return cast(Mapping[str, Label], table).get(key, Label(key, key))


def date_label(day: date) -> Label:
    """A date as Vietnamese (31/05/2019) and English (31 May 2019) readers write it."""
    return Label(
        f"{day.day:02d}/{day.month:02d}/{day.year}", f"{day.day} {_EN_MONTHS[day.month - 1]} {day.year}"
    )


def expiry_label(expires: datetime) -> Label:
    """When the links stop working, in Vietnam time: "10:00 ngày 03/06/2019" / "3 June 2019, 10:00"."""
    local = expires.astimezone(VIETNAM_TIME)
    day = date_label(local.date())
    clock = f"{local.hour:02d}:{local.minute:02d}"
    return Label(f"{clock} ngày {day.vi} (giờ Việt Nam)", f"{day.en}, {clock} (Vietnam time, UTC+7)")


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


REVIEW_STATES: dict[ReviewState, Label] = {
    "approved": Label("Đã duyệt", "Approved"),
    "changes-requested": Label("Cần sửa", "Changes requested"),
    "no-review": Label("Chưa có ý kiến", "No review yet"),
}

VERDICTS: dict[Verdict, Label] = {
    "comment": Label("Góp ý", "Comment"),
    "approve": Label("Duyệt", "Approve"),
    "changes-requested": Label("Cần sửa", "Changes requested"),
}

# Keyed by the QC rules (core.vocabulary.QcRule) renders flags.
QC_KINDS: dict[QcRule, Label] = {
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
            f"{kind.en} {flag.value:.1f} LUFS, {'above' if above else 'below'} {flag.limit:g} LUFS ({QCVN})",
        )
    if flag.rule == "true_peak":
        return Label(
            f"{kind.vi} {flag.value:.1f} dBTP, vượt {flag.limit:g} dBTP ({QCVN})",
            f"{kind.en} {flag.value:.1f} dBTP, above {flag.limit:g} dBTP ({QCVN})",
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


QC_OTHER = Label("Kiểm tra kỹ thuật", "QC")


def decode_errors_label(count: int, first: str = "") -> Label:
    """'3 lỗi giải mã / 3 decode errors', with the first error's text after a colon when given."""
    line = f": {first}" if first else ""
    return Label(f"{count} lỗi giải mã{line}", f"{count} decode errors{line}")


def not_yet_known_label(as_of: date) -> Label:
    """What a packet dated `as_of` shows instead of a figure published later."""
    day = date_label(as_of)
    return Label(f"chưa có số liệu tại ngày {day.vi}", f"not yet known as of {day.en}")

# Words the packet's script shows (it builds note forms and messages in the browser). They reach it as data in
# the page's JSON block, so the script defines no words of its own; "{n}" and "{name}" are filled in there.
SCRIPT_LABELS: dict[str, Label] = {
    "delete": Label("Xoá", "Delete"),
    "verdict": Label("Đánh giá", "Verdict"),
    "note": Label("Ý kiến", "Note"),
    "save": Label("Lưu ý kiến", "Save note"),
    "cancel": Label("Huỷ", "Cancel"),
    "film": Label("Phim", "The film"),
    "confirm_delete": Label("Xoá ý kiến này?", "Delete this note?"),
    "name_first": Label("Xin nhập họ và tên trước khi xuất.", "Please enter your name before exporting."),
    "nothing_to_export": Label("Chưa có ý kiến nào để xuất.", "There are no notes to export yet."),
    "exported": Label("Đã xuất {n} ý kiến vào tệp {name}.", "Exported {n} notes to {name}."),
    "not_kept": Label(
        "Trình duyệt không cho lưu: hãy xuất ý kiến trước khi đóng trang.",
        "This browser does not keep notes: export them before closing the page.",
    ),
}

# Row names of `docfilm show` (and what it says when there is nothing to show).
SHOW_WORDS: dict[str, Label] = {
    "asset": Label("Tư liệu", "Asset"),
    "kind": Label("Loại", "Kind"),
    "frames": Label("khung hình", "frames"),
    "start": Label("bắt đầu", "start"),
    "scene": Label("Cảnh", "Scene"),
    "shot": Label("cảnh quay", "shot"),
    "master": Label("Bản gốc", "Master"),
    "seen_at": Label("Thấy tại", "Seen at"),
    "proxy": Label("Bản xem", "Proxy"),
    "not_rendered": Label("chưa dựng theo cấu hình hiện tại", "not rendered under the current profile"),
    "poster": Label("Ảnh đại diện", "Poster"),
    "qc": Label("Kiểm tra KT", "QC"),
    "no_flags": Label("không có lỗi", "no flags"),
    "stored": Label("Lưu trữ", "Stored"),
    "not_uploaded": Label("chưa tải lên", "not uploaded"),
    "earlier": Label("bản dựng trước", "an earlier render"),
    "quarantined": Label("Cách ly", "Quarantined"),
}

# Titles and column headings of the `docfilm status` tables.
STATUS_WORDS: dict[str, Label] = {
    "milestones": Label("Mốc thời gian", "Milestones"),
    "as_of": Label("tính đến", "as of"),
    "milestone": Label("Mốc", "Milestone"),
    "due": Label("Hạn", "Due"),
    "state": Label("Tình trạng", "State"),
    "themes": Label("Chủ đề", "Themes"),
    "theme": Label("Chủ đề", "Theme"),
    "scenes": Label("Phân cảnh", "Scenes"),
    "ready_for_review": Label("Sẵn sàng duyệt", "Ready"),
    "scene": Label("Cảnh", "Scene"),
    "title": Label("Tên", "Title"),
    "scene_state": Label("Trạng thái", "State"),
    "review": Label("Ý kiến", "Review"),
    "footage": Label("Tư liệu theo cảnh", "Footage by scene"),
    "shots": Label("Cảnh quay", "Shots"),
    "clips": Label("Tư liệu", "Clips"),
    "proxies": Label("Bản xem", "Proxies"),
    "qc_flags": Label("Lỗi KT", "QC flags"),
    "planned": Label("Dự kiến", "Planned"),
    "runtime": Label("Thời lượng bản dựng theo chủ đề", "Runtime of the cut by theme"),
    "target": Label("tối đa", "target"),
    "as_cut": Label("Bản dựng", "As cut"),
    "difference": Label("Chênh lệch", "Difference"),
    "ready": Label("Sẵn sàng", "Ready"),
    "yes": Label("có", "yes"),
    "not_yet": Label("chưa", "not yet"),
    "notes": Label("Ý kiến người duyệt", "Reviewers' notes"),
    "reviewer": Label("Người góp ý", "Reviewer"),
    "verdict": Label("Đánh giá", "Verdict"),
    "timecode": Label("TC", "TC"),
    "note": Label("Nội dung", "Note"),
    "unassigned": Label("Chưa gán cảnh", "Unassigned"),
    "clip": Label("Tư liệu", "Clip"),
    "scene_given": Label("Cảnh ghi", "Scene given"),
    "quarantined": Label("Bản gốc bị cách ly (chưa dựng, chờ nhập lại)",
                         "Masters quarantined (not rendered until ingested again)"),
    "reason": Label("Lý do", "Reason"),
}
