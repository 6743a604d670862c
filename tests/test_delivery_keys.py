"""object_key: NFC, one safe segment per part, Vietnamese kept, nasty names defused."""

from __future__ import annotations

import unicodedata

import pytest

from delivery.errors import UnsafeKey
from delivery.keys import MAX_KEY_BYTES, MAX_SEGMENT_BYTES, object_key, safe_segment


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("S03", "Bến Ninh Kiều.mov"), "S03/Bến-Ninh-Kiều.mov"),
        (("party-building", "Đảng ủy — 2020–2025.mp4"), "party-building/Đảng-ủy-2020-2025.mp4"),
        (("S01", "clip (1).mov"), "S01/clip-1.mov"),
        (("S01", "C:\\Users\\dựng\\x.mov"), "S01/C-Users-dựng-x.mov"),
        (("S01", "a/../../etc/passwd"), "S01/a.etc-passwd"),
        (("S01", "  .hidden  "), "S01/hidden"),
        (("S01", "\"quoted\" 'name' `tick`.wav"), "S01/quoted-name-tick.wav"),
        (("S01", "tab\there\nnew\x00nul\x7fdel.mov"), "S01/tab-here-new-nul-del.mov"),
        (("S01", "\u202egnp.exe"), "S01/gnp.exe"),  # right-to-left override, a display spoof
        (("S01", "zero\u200bwidth"), "S01/zero-width"),
        (("S01", "a\u00a0b\u3000c"), "S01/a-b-c"),  # no-break and ideographic spaces
        (("S01", "x／y"), "S01/x-y"),  # fullwidth solidus
        (("S01", "name#?%&+=;:@$,{}[]<>|^~!*.mov"), "S01/name.mov"),
        (("S01", "file..name...mov"), "S01/file.name.mov"),
        (("S01", "---a___b---"), "S01/a___b"),
        (("S01", "🎬 cảnh 1"), "S01/cảnh-1"),
    ],
)
def test_object_key_sanitises(parts: tuple[str, ...], expected: str) -> None:
    assert object_key(*parts) == expected


def test_nfd_input_gives_nfc_key() -> None:
    decomposed = unicodedata.normalize("NFD", "Cần Thơ phố.mov")
    key = object_key("S02", decomposed)
    assert key == "S02/Cần-Thơ-phố.mov"
    assert unicodedata.is_normalized("NFC", key)
    assert key == object_key("S02", unicodedata.normalize("NFC", decomposed))


def test_stray_combining_mark_is_dropped() -> None:
    # U+0301 at the start, and after a space, has no base letter of its own.
    assert object_key("\u0301x \u0301y") == "x-y"


@pytest.mark.parametrize("bad", ["", "..", ".", "/", "//", "\\", " ", "\x00", "\u200b", "-.-", "🎬"])
def test_part_with_nothing_safe_is_refused(bad: str) -> None:
    with pytest.raises(UnsafeKey, match="nothing left"):
        object_key("S01", bad)


def test_no_parts_is_refused() -> None:
    with pytest.raises(UnsafeKey):
        object_key()


def test_non_string_part_is_refused() -> None:
    with pytest.raises(UnsafeKey, match="expected str"):
        object_key("S01", 3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "key",
    [
        object_key("/etc", "passwd"),
        object_key("a", "..b.."),
        object_key("./x", "y/.."),
    ],
)
def test_keys_have_no_dot_segments_nor_leading_slash(key: str) -> None:
    assert not key.startswith("/")
    assert all(segment not in {"", ".", ".."} for segment in key.split("/"))


def test_long_part_is_shortened_with_a_hash_and_keeps_its_extension() -> None:
    first = safe_segment("Phỏng vấn " * 60 + "A.mov")
    second = safe_segment("Phỏng vấn " * 60 + "B.mov")
    assert first != second
    for segment in (first, second):
        assert len(segment.encode("utf-8")) <= MAX_SEGMENT_BYTES
        assert segment.endswith(".mov")
        assert "~" in segment
        assert unicodedata.is_normalized("NFC", segment)


def test_shortening_never_splits_a_letter_from_its_marks() -> None:
    segment = safe_segment("ệ" * 300)
    stem = segment.split("~")[0]
    assert set(stem) == {"ệ"}


def test_key_over_1024_bytes_is_refused() -> None:
    parts = ["ệ" * 60] * 7  # 7 segments of 180 bytes, plus separators: over 1024
    with pytest.raises(UnsafeKey, match="1024"):
        object_key(*parts)
    assert len(object_key(*parts[:5]).encode()) <= MAX_KEY_BYTES


def test_same_name_same_key_whatever_its_unicode_form() -> None:
    # Spelled with escapes so that the expected key does not depend on how this file's bytes were typed.
    expected = "S03/B\u1ebfn-Ninh-Ki\u1ec1u.mov"
    for form in ("NFC", "NFD", "NFKC", "NFKD"):
        assert object_key("S03", unicodedata.normalize(form, "Bến Ninh Kiều.mov")) == expected, form
