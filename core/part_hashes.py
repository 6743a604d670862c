"""SHA-256 of a file's parts, taken in the read that hashes the whole file, for a multipart upload to send.

A master that goes to S3 is read at ingest anyway (its SHA-256 is its identity): hashing the same bytes in parts
of the upload's part size there lets the upload send each part's SHA-256 from the ledger for the server to check,
with no hashing at upload time. Shared by assets_manifest (which records them) and delivery (which sends them).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DIGEST_BYTES", "PartHasher", "PartHashes", "PartHashing", "hash_file_parts"]

DIGEST_BYTES = 32  # one raw SHA-256
_SLICE = 256 * 1024  # one read of hash_file_parts: both hashes read it while it is in the CPU's cache


@dataclass(frozen=True)
class PartHashes:
    """The raw SHA-256 of each `part_size` part of a file, in order (the last part may be shorter)."""

    part_size: int
    digests: tuple[bytes, ...]

    def blob(self) -> bytes:
        """The digests joined, as the ledger stores them."""
        return b"".join(self.digests)

    @classmethod
    def from_blob(cls, part_size: int, blob: bytes) -> PartHashes:
        """The inverse of `blob`; ValueError for a blob that is not whole digests."""
        if part_size <= 0 or not blob or len(blob) % DIGEST_BYTES:
            raise ValueError(f"{len(blob)} bytes of part hashes with part size {part_size}: not whole SHA-256 digests")
        return cls(part_size, tuple(blob[i:i + DIGEST_BYTES] for i in range(0, len(blob), DIGEST_BYTES)))

    def checksums(self) -> tuple[str, ...]:
        """Each part's SHA-256 in base64, the form S3 takes as ChecksumSHA256."""
        return tuple(base64.b64encode(d).decode("ascii") for d in self.digests)

    def covers(self, size: int) -> bool:
        """True when parts of `part_size` add up to `size` bytes: all full but the last, which holds 1..part_size."""
        count = len(self.digests)
        return count > 0 and (count - 1) * self.part_size < size <= count * self.part_size


@dataclass(frozen=True)
class PartHashing:
    """Which files get part hashes: those of `from_bytes` or more (the multipart threshold), in `part_size` parts."""

    part_size: int
    from_bytes: int

    def wanted(self, size: int) -> bool:
        return size >= self.from_bytes

    def part_size_for(self, size: int) -> int | None:
        """The part size to hash a file of `size` bytes in, or None when it does not go in parts."""
        return self.part_size if self.wanted(size) else None


class PartHasher:
    """SHA-256 of consecutive `part_size` parts of a stream fed in pieces of any length."""

    def __init__(self, part_size: int) -> None:
        if part_size <= 0:
            raise ValueError(f"part size {part_size} must be positive")
        self.part_size = part_size
        self._digests: list[bytes] = []
        self._current = hashlib.sha256()
        self._filled = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        while view:
            take = view[:self.part_size - self._filled]
            self._current.update(take)
            self._filled += len(take)
            view = view[len(take):]
            if self._filled == self.part_size:
                self._digests.append(self._current.digest())
                self._current = hashlib.sha256()
                self._filled = 0

    def finish(self) -> PartHashes:
        """The parts' hashes (the shorter last part included); the hasher is not to be fed after this."""
        if self._filled:
            self._digests.append(self._current.digest())
            self._filled = 0
        return PartHashes(self.part_size, tuple(self._digests))


def hash_file_parts(path: Path, part_size: int) -> tuple[str, int, PartHashes]:
    """The whole file's SHA-256 (hex), its size and its parts' SHA-256, in one read."""
    whole = hashlib.sha256()
    parts = PartHasher(part_size)
    size = 0
    buffer = bytearray(_SLICE)
    view = memoryview(buffer)
    with path.open("rb", buffering=0) as handle:
        while n := handle.readinto(buffer):
            whole.update(view[:n])
            parts.update(view[:n])
            size += n
    return whole.hexdigest(), size, parts.finish()
