"""Content hashes of a file in one read."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import xxhash

CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class Digest:
    """SHA-256 and XXH128 of the same bytes, as lowercase hex."""

    sha256: str
    xxh128: str
    size: int


def digest_stream(stream: BinaryIO, sink: BinaryIO | None = None) -> Digest:
    """Hash a stream with SHA-256 and XXH128 in one pass, copying each chunk to sink when given."""
    sha = hashlib.sha256()
    xxh = xxhash.xxh3_128()
    size = 0
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    while True:
        n = stream.readinto(buf)  # type: ignore[attr-defined]
        if not n:
            break
        chunk = view[:n]
        sha.update(chunk)
        xxh.update(chunk)
        if sink is not None:
            sink.write(chunk)
        size += n
    return Digest(sha.hexdigest(), xxh.hexdigest(), size)


def digest_file(path: Path) -> Digest:
    """Hash one file (opened read-only)."""
    with open(path, "rb", buffering=0) as f:
        return digest_stream(f)
