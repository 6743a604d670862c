"""Object keys from scene ids and file names: NFC, one safe segment per part, never `..` or a leading `/`.

Each part becomes one segment. Letters, marks and digits of any script are kept, so Vietnamese names stay
readable ("Bến Ninh Kiều" → "Bến-Ninh-Kiều"); `.`, `_` and `-` are kept; everything else (separators,
spaces, quotes, control and format characters, other punctuation and symbols) becomes `-`. A run of `-`
and `.` collapses to one character (`.` when it holds one, so "clip (1).mov" → "clip-1.mov"), and a
segment does not begin or end with either. A part too long for one path
segment is shortened and suffixed with a hash of the original, so two long names never collide.
"""

from __future__ import annotations

import hashlib
import unicodedata

from delivery.errors import UnsafeKey

__all__ = ["MAX_KEY_BYTES", "MAX_SEGMENT_BYTES", "master_key", "object_key", "rendition_key", "safe_segment"]

# S3 keys are at most 1024 bytes of UTF-8; 255 bytes is the usual file-name limit of a download.
MAX_KEY_BYTES = 1024
MAX_SEGMENT_BYTES = 200
_KEPT_PUNCTUATION = frozenset("._-")
_EDGE = "-."


def _kept(character: str, previous: str) -> bool:
    category = unicodedata.category(character)
    if category[0] in "LN":
        return True
    if category[0] == "M":
        # A combining mark only means something on a kept letter or digit, not on a replaced character.
        return previous != "" and unicodedata.category(previous)[0] in "LNM"
    return character in _KEPT_PUNCTUATION


def _collapse(text: str) -> str:
    """Each run of `-` and `.` becomes one character: `.` if the run holds one (an extension), else `-`."""
    out: list[str] = []
    run = ""
    for character in text + "\0":
        if character in _EDGE:
            run += character
            continue
        if run:
            out.append("." if "." in run else "-")
            run = ""
        out.append(character)
    return "".join(out[:-1])


def _shorten(segment: str, original: str) -> str:
    digest = hashlib.sha256(original.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    stem, dot, extension = segment.rpartition(".")
    if not dot or not stem or len(extension.encode()) > 16:
        stem, extension = segment, ""
    suffix = f"~{digest}" + (f".{extension}" if extension else "")
    budget = MAX_SEGMENT_BYTES - len(suffix.encode())
    encoded = stem.encode("utf-8")[:budget]
    shortened = encoded.decode("utf-8", "ignore")  # drop a character cut in half
    # Do not leave a base letter cut from its combining marks.
    while shortened and unicodedata.category(shortened[-1])[0] == "M":
        shortened = shortened[:-1]
    return shortened.rstrip(_EDGE) + suffix


def safe_segment(part: str) -> str:
    """One key segment from `part` (see the module docstring); UnsafeKey when nothing safe is left."""
    if not isinstance(part, str):
        raise UnsafeKey(f"key part {part!r} is a {type(part).__name__}, expected str")
    normalised = unicodedata.normalize("NFC", part)
    pieces: list[str] = []
    previous = ""
    for character in normalised:
        if _kept(character, previous):
            pieces.append(character)
            previous = character
        else:
            pieces.append("-")
            previous = ""
    segment = _collapse("".join(pieces)).strip(_EDGE)
    segment = unicodedata.normalize("NFC", segment)
    if not segment:
        raise UnsafeKey(f"key part {part!r} has nothing left after sanitising; expected letters or digits")
    if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
        segment = _shorten(segment, normalised)
    return segment


def object_key(*parts: str) -> str:
    """Join sanitised parts with `/`: object_key("S03", "Bến Ninh Kiều.mov") == "S03/Bến-Ninh-Kiều.mov"."""
    if not parts:
        raise UnsafeKey("an object key needs at least one part")
    key = "/".join(safe_segment(part) for part in parts)
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise UnsafeKey(f"object key {key[:60]!r}… is {len(key.encode())} bytes; S3 allows {MAX_KEY_BYTES}")
    return key


_HEX = frozenset("0123456789abcdef")
# What a worker made for an asset, by role: the part of the key after the asset id.
RENDITION_SUFFIXES = {"poster": ".poster", "contact_sheet": ".sheet"}


def master_key(sha256_hex: str) -> str:
    """The key of a master in S3: `masters/<sha256>` (its content names it, so one master is stored once)."""
    if len(sha256_hex) != 64 or not set(sha256_hex) <= _HEX:
        raise UnsafeKey(f"master key needs a lower-case hex SHA-256, got {sha256_hex[:70]!r}")
    return f"masters/{sha256_hex}"


def rendition_key(profile_hash: str, asset_id: str, role: str, suffix: str) -> str:
    """The key of a proxy, poster or contact sheet: `proxies/<profile>/<asset id>[.poster|.sheet]<suffix>`.

    `suffix` is the file's own (".mp4", ".m4a", ".jpg"); one asset's files under one profile sit side by side.
    """
    extension = suffix.lower() if suffix.startswith(".") else f".{suffix.lower()}"
    return object_key("proxies", profile_hash, f"{asset_id}{RENDITION_SUFFIXES.get(role, '')}{extension}")
