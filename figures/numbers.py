"""Numbers written the Vietnamese or English way, read exactly (Decimal), and the units figures are given in."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

# `-` means none and `..` not available in the statistics office's tables: no figure.
NO_FIGURE = frozenset({"", "-", "–", "—", "..", "...", "…", "x", "X"})
RANGE_DASH = "–"
_CANONICAL = re.compile(r"-?\d+(?:\.\d+)?")
_NUMBER_TEXT = re.compile(r"\d[\d.,]*")


@dataclass(frozen=True)
class Amount:
    """A number as written: its exact value and how many decimals were shown (the precision stated)."""

    value: Decimal
    decimals: int

    @property
    def text(self) -> str:
        """Canonical form: dot for decimals, no thousands separator (`11191`, `7.5`)."""
        return format(self.value, "f")


def _digits_after(text: str, sep: str) -> int:
    return len(text.rsplit(sep, 1)[1])


def parse_amount(text: str, lang: str = "vi") -> Amount | None:
    """One number in Vietnamese (`7,5`, `11.191`, `1.234,5`) or English (`7.5`, `11,191`) form; None if not one.

    A single separator followed by exactly three digits is a thousands separator (`11.191` in Vietnamese,
    `3,490` in English); the other separator, or one followed by another number of digits, is the decimal mark.
    """
    s = text.strip().replace("\u00a0", "").replace(" ", "")
    negative = s[:1] in "-−"
    if negative:
        s = s[1:]
    if not s or not _NUMBER_TEXT.fullmatch(s) or s[-1] in ".,":
        return None
    thousands, decimal = (".", ",") if lang == "vi" else (",", ".")
    if thousands in s and decimal in s:
        if s.rfind(thousands) > s.rfind(decimal):  # written the other language's way
            thousands, decimal = decimal, thousands
        whole, frac = s.rsplit(decimal, 1)
        if not re.fullmatch(rf"\d{{1,3}}(\{thousands}\d{{3}})*", whole) or decimal in whole:
            return None
        digits, places = whole.replace(thousands, "") + "." + frac, len(frac)
    elif thousands in s or decimal in s:
        sep = thousands if thousands in s else decimal
        groups = s.split(sep)
        grouped = len(groups) > 1 and all(len(g) == 3 for g in groups[1:]) and 1 <= len(groups[0]) <= 3
        if sep == thousands and grouped or len(groups) > 2 and grouped:
            digits, places = s.replace(sep, ""), 0
        elif len(groups) == 2:
            digits, places = groups[0] + "." + groups[1], len(groups[1])
        else:
            return None
    else:
        digits, places = s, 0
    try:
        value = Decimal(digits)
    except InvalidOperation:
        return None
    return Amount(-value if negative else value, places)


def amount_of_cell(cell: object) -> Amount | None | str:
    """A table cell's number: Amount; None when it says there is none (`-`, `..`); its text when it is no number."""
    if isinstance(cell, bool):
        return str(cell)
    if isinstance(cell, int):
        return Amount(Decimal(cell), 0)
    if isinstance(cell, float):
        value = Decimal(repr(cell))
        if value == value.to_integral_value():
            return Amount(value.quantize(Decimal(1)), 0)
        value = value.normalize()
        return Amount(value, max(0, -int(value.as_tuple().exponent)))
    text = unicodedata.normalize("NFC", str(cell)).strip()
    if text in NO_FIGURE:
        return None
    parsed = parse_amount(text.rstrip("%").strip(), "vi")
    return parsed if parsed is not None else text


def parse_value(text: str) -> tuple[Amount, Amount | None] | None:
    """A fact's stored value (`7.53`, `11191`, legacy `11,191`, a range `7.5–8`) as (low, high or None)."""
    s = text.strip()
    if _CANONICAL.fullmatch(s):  # what `facts import` writes: no separator but the decimal dot
        whole, _, frac = s.partition(".")
        return Amount(Decimal(s), len(frac)), None
    parts = re.split(r"\s*[–—-]\s*", s) if re.search(r"\d\s*[–—-]\s*\d", s) else [s]
    if len(parts) > 2:
        return None
    amounts = [parse_amount(p, "en") for p in parts]
    if any(a is None for a in amounts):
        return None
    low = amounts[0]
    assert low is not None
    return low, (amounts[1] if len(amounts) == 2 else None)


@dataclass(frozen=True)
class Unit:
    """A unit reduced to a kind (`VND`, `percent`, `person`…) and the multiplier of its base (tỷ đồng = 1e9 VND)."""

    kind: str | None
    scale: Decimal = Decimal(1)


_SCALES: list[tuple[str, Decimal]] = [
    ("nghìn tỷ", Decimal(10) ** 12), ("ngàn tỷ", Decimal(10) ** 12), ("trillion", Decimal(10) ** 12),
    ("tỷ", Decimal(10) ** 9), ("billion", Decimal(10) ** 9), ("bn", Decimal(10) ** 9),
    ("triệu", Decimal(10) ** 6), ("million", Decimal(10) ** 6), ("mn", Decimal(10) ** 6),
    ("nghìn", Decimal(10) ** 3), ("ngàn", Decimal(10) ** 3), ("thousand", Decimal(10) ** 3),
]
_KINDS: list[tuple[str, str]] = [
    (r"%|phần trăm|per ?cent", "percent"),
    (r"đô la mỹ|usd|us\$|\$|dollars?", "USD"),
    (r"đồng|vnd|dong|vnđ", "VND"),
    (r"ha|hécta|hectares?", "ha"),
    (r"km|ki-lô-mét|kilometres?|kilometers?", "km"),
    (r"người|people|persons?|đảng viên|members?|thanh niên|young people", "person"),
    (r"hộ|households?", "household"),
    (r"xã|communes?", "commune"),
    (r"lượt|visits?|arrivals?", "visit"),
    (r"vụ|cases?", "case"),
]


_SCALE_RES = [(re.compile(rf"(?<!\w){re.escape(word)}(?!\w)"), factor) for word, factor in _SCALES]
_KIND_RES = [(re.compile(rf"(?<!\w)(?:{pattern})(?!\w)"), re.compile(pattern), kind) for pattern, kind in _KINDS]


@lru_cache(maxsize=4096)
def unit_of(text: str | None) -> Unit:
    """The kind and scale of a unit as written in a table or the narration; kind None when there is none."""
    if not text:
        return Unit(None)
    s = unicodedata.normalize("NFC", text).strip().lower()
    scale = Decimal(1)
    for pattern, factor in _SCALE_RES:
        if pattern.search(s):
            scale = factor
            s = pattern.sub(" ", s, count=1)
            break
    s = s.strip()
    for whole_word, anywhere, kind in _KIND_RES:
        if whole_word.search(s) or (kind in ("percent", "USD") and anywhere.search(s)):
            return Unit(kind, scale)
    return Unit(s or None, scale)
