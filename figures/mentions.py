"""Finding the figures a text states: numbers with their units, not years, dates, times, ordinals or names.

Works on one text (a narration, a title, a graphics description) and gives character offsets; `check` maps
them to lines and columns of the storyboard. Vietnamese texts read `7,5` and `11.191`; English ones `7.5`
and `11,191`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from figures.numbers import Amount, Unit, parse_amount, unit_of

# A number: digits with separators, optionally a range to a second number (7,5–8).
_NUM = r"\d+(?:[.,]\d+)*"
_FIGURE = re.compile(
    rf"(?P<prefix>US\$|USD\s?|\$)?(?P<num>{_NUM})(?:\s?(?P<dash>[–—-])\s?(?P<num2>{_NUM}))?"
)
_UNITS_VI = [
    "nghìn tỷ đồng", "ngàn tỷ đồng", "tỷ đồng", "triệu đồng", "nghìn đồng", "đồng",
    "triệu đô la Mỹ", "tỷ đô la Mỹ", "đô la Mỹ", "triệu USD", "tỷ USD", "USD",
    "nghìn người", "người", "ha", "km", "hộ", "xã", "lượt", "vụ", "%",
]
_UNITS_EN = [
    "trillion dong", "billion dong", "million dong", "billion VND", "million VND", "VND", "dong",
    "million US dollars", "billion US dollars", "US dollars", "dollars", "USD",
    "per cent", "percent", "%", "hectares", "ha", "km", "people", "households", "communes", "visits", "cases",
    "billion", "million",
]
_UNIT_RE = {
    lang: re.compile(r"\s?(" + "|".join(re.escape(u) for u in sorted(units, key=len, reverse=True)) + r")(?!\w)")
    for lang, units in (("vi", _UNITS_VI), ("en", _UNITS_EN))
}
# Words before a number that make it a name or an ordinal, not a figure.
_NAME_BEFORE = re.compile(
    r"(?:(?<!\w)(?:lần thứ|thứ|chỉ thị|nghị quyết|quyết định|kết luận|thông tư|nghị định|công văn|số|khóa|khoá|"
    r"trung ương|hội nghị|đại hội|quy định|điều|khoản|chương|phụ lục|cảnh|phân cảnh|"
    r"directive|resolution|decision|decree|circular|conclusion|no\.|number|plenum|article|congress|term|scene|"
    r"phase|giai đoạn)\s*)$",
    re.IGNORECASE,
)
# Words after a number that make it part of a date, a time or a duration, not a figure.
_NOT_AFTER = re.compile(
    r"^(?:[A-Za-zÀ-ỹ]|:\d|/\d|-[A-ZĐ])|^\s?(?:tháng|giờ|phút|h\d|"
    r"(?:january|february|march|april|may|june|july|august|september|october|november|december)(?!\w)|"
    r"months?|days?|hours?|minutes?|ngày|năm(?!\w)|tuần|weeks?|years?(?!\w))",
    re.IGNORECASE,
)
_NOT_BEFORE = re.compile(
    r"(?:[A-Za-zÀ-ỹ]|ngày\s|tháng\s|tháng\s\d+/|\d[/:.-]|/|"
    r"(?:january|february|march|april|may|june|july|august|september|october|november|december)\s)$",
    re.IGNORECASE,
)
YEAR = re.compile(r"(?<![\d.,])(?:19|20)\d\d(?![\d]|[.,]\d)")
HEDGES = {
    "vi": re.compile(r"(?<!\w)(ước|dự kiến|mục tiêu|kế hoạch|khoảng|chỉ tiêu|phấn đấu|dự báo)(?!\w)", re.IGNORECASE),
    "en": re.compile(r"(?<!\w)(estimated?|expected|projected|target\w*|plan\w*|about|around|aim\w*|"
                     r"quota|forecast|some)(?!\w)", re.IGNORECASE),
}
# Dates and times written with digits only: 2019-05-31, 28/5/2017, 01/2018, 14:30.
_DATE_OR_TIME = re.compile(r"(?<!\d)(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}(?:/\d{2,4})?|\d{1,2}:\d{2})(?!\d)")
_SENTENCE_END = re.compile(r"[.!?;](?=\s|$)")
_DIGIT = re.compile(r"\d")
_PERIOD_AT = re.compile(r"(?:19|20)\d\d\s?[–—-]\s?((?:19|20)\d\d)")
# How far before a number the name and date patterns can reach (their longest alternative, with room to spare).
_NAME_WINDOW = 16
_NOT_BEFORE_WINDOW = 24


@dataclass(frozen=True)
class Mention:
    """A figure stated in a text: where (character offsets), as written, its amount(s) and unit."""

    start: int
    end: int
    text: str
    amount: Amount
    high: Amount | None
    unit: Unit
    unit_text: str | None
    year: int | None  # from the sentence; None when the sentence names no year
    sentence: tuple[int, int]
    hedged: bool
    context: str  # the words before it in its sentence, to tell which indicator it states


def _is_year_text(raw: str) -> bool:
    return len(raw) == 4 and raw.isdigit() and 1900 <= int(raw) <= 2100


def sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans of a text (a `.` between digits is a separator, not an end)."""
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        spans.append((start, match.end()))
        start = match.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def years_in(text: str) -> list[tuple[int, int]]:
    """(offset, year) of each year the text names (`2018`, `mid-2017`, `28/5/2017`; a range gives its last)."""
    return [(m.start(), int(m.group())) for m in YEAR.finditer(text)]


def find_mentions(text: str, lang: str = "vi") -> list[Mention]:
    """Every figure in a text, in order; years, dates, times, durations, ordinals and names are left out."""
    found: list[Mention] = []
    spans = sentences(text)
    text_years = years_in(text)
    dated = [(m.start(), m.end()) for m in _DATE_OR_TIME.finditer(text)]
    next_date = 0
    hedges = HEDGES["en" if lang == "en" else "vi"]
    unit_re = _UNIT_RE[lang]
    for match in _FIGURE.finditer(text):
        while next_date < len(dated) and dated[next_date][1] <= match.start():
            next_date += 1
        if next_date < len(dated) and dated[next_date][0] < match.end():
            continue  # part of a date or a time
        start, num_end = match.start("num"), match.end()
        raw, raw2 = match.group("num"), match.group("num2")
        if _is_year_text(raw) and (raw2 is None or _is_year_text(raw2)):
            continue  # a year (or a span of years) used as a date
        # The words before: searched in a short window ending at the number (each pattern is anchored there),
        # not in the whole text: these searches were most of the time of a check.
        name_from = start
        while name_from > 0 and text[name_from - 1].isspace():
            name_from -= 1
        if _NAME_BEFORE.search(text, max(0, name_from - _NAME_WINDOW), start) or (
                _NOT_BEFORE.search(text, max(0, start - _NOT_BEFORE_WINDOW), start) and not match.group("prefix")):
            continue
        amount = parse_amount(raw, lang)
        if amount is None:
            continue
        unit_match = unit_re.match(text, match.end())
        if unit_match is None and _NOT_AFTER.match(text[match.end(): match.end() + 20]):
            continue
        high = parse_amount(raw2, lang) if raw2 else None
        if raw2 and high is None:
            continue
        unit_text = unit_match.group(1) if unit_match else None
        end = unit_match.end() if unit_match else num_end
        prefix = match.group("prefix")
        if prefix:
            start = match.start()
            unit_text = f"{prefix.strip()} {unit_text}" if unit_text else prefix.strip()
        if unit_match and unit_text and unit_text.split()[-1] in ("billion", "million") and not prefix:
            unit_text = None
            end = num_end
        s_start, s_end = next(((a, b) for a, b in spans if a <= start < b), (0, len(text)))
        year = _year_for(text, s_start, s_end, start, end,
                         [(o - s_start, y) for o, y in text_years if s_start <= o < s_end])
        previous = max((m.end for m in found if m.sentence == (s_start, s_end)), default=s_start)
        found.append(Mention(
            start=start, end=end, text=text[start:end], amount=amount, high=high,
            unit=unit_of(unit_text), unit_text=unit_text, year=year, sentence=(s_start, s_end),
            hedged=bool(hedges.search(text, s_start, s_end)),
            context=text[previous:start] if start - previous > 8 else text[s_start:start],
        ))
    return found


def _year_for(text: str, s_start: int, s_end: int, start: int, end: int,
              years: list[tuple[int, int]]) -> int | None:
    """The year of the figure at [start, end): the first named after it before the next figure, else the last before.

    `years`: (offset in the sentence, year) of the years the sentence names.
    """
    if not years:
        return None
    sentence = text[s_start:s_end]
    after_text = text[end:s_end]
    digit = _DIGIT.search(after_text)
    # the next figure starts at the first digit that does not start a year (a year's second digit never does)
    next_figure = len(after_text) if digit is None else digit.start() + (
        1 if YEAR.match(after_text, digit.start()) else 0)
    for offset, year in years:
        if end - s_start <= offset < end - s_start + next_figure:
            # the span "2015–2020" is one period: its last year
            return _period_end(sentence, offset, year)
    before = [(o, y) for o, y in years if o < start - s_start]
    if before:
        offset, year = before[-1]
        return _period_end(sentence, offset, year)
    return None


def _period_end(sentence: str, offset: int, year: int) -> int:
    m = _PERIOD_AT.match(sentence, offset)
    return int(m.group(1)) if m else year
