"""Names: NFC text for keys and display, and library names every file system and ASC MHL can carry.

The original bytes of a source name are kept in the ledger (``path_bytes``); the library copy gets a name
derived from them: NFC, undecodable bytes and control characters (newlines included) written as ``%XX``, at
most 255 UTF-8 bytes. No shell ever sees a name: every path is passed to the OS as one argument.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path, PurePosixPath

NAME_MAX = 255  # bytes in one path component on ext4, XFS, APFS, NTFS (as UTF-16 units, close enough)

# Control characters (XML 1.0 forbids most, a CR comes back as LF, and tools that write one path a line,
# ascmhl's own writer among them, break names with a newline or tab), DEL, lone surrogates (undecodable bytes
# under surrogateescape) and the two non-characters XML also forbids.
_UNSAFE = re.compile("[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def display_text(raw: bytes) -> str:
    """Bytes of a name as NFC text; bytes that are not UTF-8 shown as \\xNN (text a database can store)."""
    return nfc(raw.decode("utf-8", "backslashreplace"))


def display_path(path: Path) -> str:
    """The path as text for keys and display (see display_text)."""
    return display_text(os.fsencode(path))


def openable_path(path: Path) -> str:
    """The path as text that opens the file again (display text only when its bytes are not UTF-8)."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return display_path(path)
    return text


def _escape(match: re.Match[str]) -> str:
    ch = match.group(0)
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape of one undecodable byte
        return f"%{code - 0xDC00:02X}"
    return "".join(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))


def xml_safe(text: str) -> str:
    """Text with the characters XML 1.0 cannot carry written as %XX (the same escape library names use)."""
    return _UNSAFE.sub(_escape, text)


def fit_name(name: str, limit: int = NAME_MAX) -> str:
    """Shorten a name to `limit` UTF-8 bytes, keeping its extension."""
    if len(name.encode("utf-8")) <= limit:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext.encode("utf-8")) > 16:
        stem, ext = name, ""
    tail = f".{ext}" if ext else ""
    budget = limit - len(tail.encode("utf-8"))
    out = stem.encode("utf-8")[:budget].decode("utf-8", "ignore")
    return out + tail


def library_name(name: str) -> str:
    """One path component as it is named in the library (see the module docstring)."""
    return fit_name(nfc(xml_safe(name)))


def numbered(name: str, n: int) -> str:
    """`clip.mov` → `clip (2).mov`: the n-th file that wanted the same library name."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    tail = f" ({n})" + (f".{ext}" if ext else "")
    budget = NAME_MAX - len(tail.encode("utf-8"))
    return stem.encode("utf-8")[:budget].decode("utf-8", "ignore") + tail


def library_relpath(root: Path, path: Path) -> PurePosixPath:
    """Where a file found under a source root goes inside its card folder (the root itself for a file)."""
    rel = Path(path.name) if root == path else path.relative_to(root)
    return PurePosixPath(*(library_name(part) for part in rel.parts))


def card_name(root: Path) -> str:
    """The library folder of a source: the folder's own name, or a single file's parent folder name."""
    folder = Path(os.path.abspath(root))
    if folder.is_file():
        folder = folder.parent
    return library_name(folder.name or "root")
