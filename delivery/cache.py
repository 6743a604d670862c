"""A bounded local cache of objects fetched from S3 by their SHA-256 (masters for workers without the library).

The cache is a folder of files named `<sha256><suffix>`; its state is those files alone, so it survives a
restart with nothing to rebuild. A file's mtime is the time it was last used (set on every hit), and the
least recently used are evicted first to keep the total under the limit.

A fetch streams the object to a temp name in the same folder while hashing it, compares the SHA-256 with the
one expected, then renames the file into place: a reader never sees a partial or unverified file. Two
processes fetching the same object take turns on a lock file, so the second finds the first one's copy.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from delivery.client import client_error_code, translate_errors
from delivery.errors import CachedObjectMismatch, ObjectMissing

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["CachedFile", "ObjectCache"]

log = logging.getLogger(__name__)

_CHUNK = 4 * 1024 * 1024
_ENTRY = re.compile(r"^[0-9a-f]{64}(\.[A-Za-z0-9]{1,16})?$")
_TEMP_PREFIX = ".fetch-"
_STALE_TEMP_S = 24 * 3600  # a temp file this old belongs to a fetch that was killed


@dataclass(frozen=True)
class CachedFile:
    """One file of the cache; `fetched` is False when it was already there."""

    path: Path
    sha256: str
    bytes: int
    fetched: bool


class ObjectCache:
    """The cache folder `root`, holding at most `max_bytes`.

    Files this instance handed out are never evicted by it (a packet needs all its clips' files at once): for as
    long as they are in use the cache may hold more than the limit, and says so in the log.
    """

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self._in_use: set[Path] = set()

    def path_for(self, sha256_hex: str, suffix: str = "") -> Path:
        name = f"{sha256_hex}{suffix.lower()}"
        if not _ENTRY.match(name):
            raise ValueError(f"cache entry name {name!r} is not <sha256 hex>[.<ext>]")
        return self.root / name

    def get(self, sha256_hex: str, suffix: str = "") -> Path | None:
        """The cached file, marked as just used; None when it is not cached."""
        path = self.path_for(sha256_hex, suffix)
        try:
            os.utime(path)
        except FileNotFoundError:
            return None
        self._in_use.add(path)
        return path

    def entries(self) -> list[tuple[Path, int, float]]:
        """Every cached file with its size and last use, least recently used first."""
        found = []
        try:
            listing = list(os.scandir(self.root))
        except FileNotFoundError:
            return []
        for entry in listing:
            if not _ENTRY.match(entry.name):
                continue
            try:
                stat = entry.stat()
            except FileNotFoundError:  # evicted by another process meanwhile
                continue
            found.append((Path(entry.path), stat.st_size, stat.st_mtime))
        return sorted(found, key=lambda e: (e[2], e[0].name))

    def size(self) -> int:
        return sum(size for _, size, _ in self.entries())

    def fetch(
        self, client: S3Client, bucket: str, key: str, sha256_hex: str, *, suffix: str = "",
        expected_bytes: int | None = None,
    ) -> CachedFile:
        """The object `key` as a verified local file: from the cache, else downloaded into it.

        CachedObjectMismatch when the object's bytes do not have `sha256_hex` (nothing is kept then);
        ObjectMissing when the bucket has no such key.
        """
        final = self.path_for(sha256_hex, suffix)
        if self.get(sha256_hex, suffix) is not None:
            return CachedFile(final, sha256_hex, final.stat().st_size, fetched=False)
        self.root.mkdir(parents=True, exist_ok=True)
        with self._locked(sha256_hex):
            if self.get(sha256_hex, suffix) is not None:  # another process fetched it while we waited
                return CachedFile(final, sha256_hex, final.stat().st_size, fetched=False)
            self._make_room(expected_bytes or 0)
            size = self._download(client, bucket, key, sha256_hex, final)
        self._in_use.add(final)
        self._make_room(0)
        return CachedFile(final, sha256_hex, size, fetched=True)

    @contextmanager
    def _locked(self, sha256_hex: str) -> Iterator[None]:
        lock_path = self.root / f".{sha256_hex}.lock"
        with lock_path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _download(self, client: S3Client, bucket: str, key: str, sha256_hex: str, final: Path) -> int:
        target = f"s3://{bucket}/{key}"
        temp = self.root / f"{_TEMP_PREFIX}{final.name}.{os.getpid()}"
        digest = hashlib.sha256()
        size = 0
        try:
            with translate_errors(client.meta.endpoint_url, f"fetching {target}"):
                try:
                    response = client.get_object(Bucket=bucket, Key=key)
                except ClientError as exc:
                    if client_error_code(exc) in {"404", "NoSuchKey", "NotFound"}:
                        raise ObjectMissing(f"{target} does not exist: the ledger names it, the bucket has no "
                                            "such object") from exc
                    raise
                body = response["Body"]
                with temp.open("wb") as out:
                    while chunk := body.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        size += len(chunk)
                    out.flush()
                    os.fsync(out.fileno())
            got = digest.hexdigest()
            if got != sha256_hex:
                raise CachedObjectMismatch(
                    f"{target} no longer matches its SHA-256: expected {sha256_hex}, its {size} bytes have {got}"
                )
            os.replace(temp, final)
        finally:
            temp.unlink(missing_ok=True)
        log.info("fetched %s into the cache (%d bytes)", target, size)
        return size

    def _make_room(self, incoming: int) -> None:
        """Evict least recently used files until the cache and `incoming` bytes fit under the limit."""
        entries = self.entries()
        total = sum(size for _, size, _ in entries) + incoming
        for path, size, _ in entries:
            if total <= self.max_bytes:
                break
            if path in self._in_use:
                continue
            try:
                path.unlink()
                log.info("evicted %s from the cache (%d bytes)", path.name, size)
            except FileNotFoundError:
                pass
            total -= size
        if total > self.max_bytes:
            log.warning("cache %s holds %d bytes with the next object, over its limit of %d: the files in use "
                        "stay", self.root, total, self.max_bytes)
        self._remove_stale_temps()

    def _remove_stale_temps(self) -> None:
        cutoff = time.time() - _STALE_TEMP_S
        for entry in self.root.glob(f"{_TEMP_PREFIX}*"):
            try:
                if entry.stat().st_mtime < cutoff:
                    entry.unlink()
            except FileNotFoundError:
                pass
