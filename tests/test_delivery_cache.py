"""The bounded cache of objects fetched from S3 (delivery.cache) against a real SeaweedFS: verified download,
least-recently-used eviction, a restart that keeps it, a corrupt object refused, two fetchers at once."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from delivery.cache import ObjectCache
from delivery.errors import CachedObjectMismatch, ObjectMissing

KIB = 1024


def _put(s3: Any, key: str, data: bytes) -> str:
    s3.client.put_object(Bucket=s3.bucket, Key=key, Body=data)
    return hashlib.sha256(data).hexdigest()


def test_fetch_verifies_and_reuses(embedded_s3: Any, tmp_path: Path) -> None:
    data = os.urandom(300 * KIB)
    sha = _put(embedded_s3, "cache-test/a", data)
    cache = ObjectCache(tmp_path / "cache", 10 * 1024 * KIB)
    first = cache.fetch(embedded_s3.client, embedded_s3.bucket, "cache-test/a", sha, suffix=".MOV")
    assert first.fetched and first.path.name == f"{sha}.mov" and first.path.read_bytes() == data
    again = cache.fetch(embedded_s3.client, embedded_s3.bucket, "cache-test/a", sha, suffix=".MOV")
    assert not again.fetched and again.path == first.path
    # A worker restarting builds a new cache over the same folder: what it held is still there.
    restarted = ObjectCache(tmp_path / "cache", 10 * 1024 * KIB)
    assert restarted.get(sha, ".mov") == first.path
    assert [p.name for p, _, _ in restarted.entries()] == [first.path.name]
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".fetch-")]


def test_least_recently_used_is_evicted(embedded_s3: Any, tmp_path: Path) -> None:
    blobs = [os.urandom(400 * KIB) for _ in range(3)]
    shas = [_put(embedded_s3, f"cache-test/lru{i}", b) for i, b in enumerate(blobs)]
    client, bucket = embedded_s3.client, embedded_s3.bucket

    def cache() -> ObjectCache:  # each use as a worker's render makes it: one master at a time
        return ObjectCache(tmp_path / "cache", 1000 * KIB)  # room for two

    first = cache().fetch(client, bucket, "cache-test/lru0", shas[0], expected_bytes=len(blobs[0])).path
    second = cache().fetch(client, bucket, "cache-test/lru1", shas[1], expected_bytes=len(blobs[1])).path
    os.utime(first, (1_000_000, 1_000_000))
    os.utime(second, (2_000_000, 2_000_000))
    assert cache().get(shas[0]) == first  # used again: now the most recent
    cache().fetch(client, bucket, "cache-test/lru2", shas[2], expected_bytes=len(blobs[2]))
    assert first.exists() and not second.exists()
    assert cache().size() <= 1000 * KIB
    # One user needing several files at once (a packet) keeps them all, over the limit while it holds them.
    together = cache()
    paths = [together.fetch(client, bucket, f"cache-test/lru{i}", sha).path for i, sha in enumerate(shas)]
    assert all(p.exists() for p in paths) and together.size() == sum(map(len, blobs))


def test_corrupt_object_is_refused_and_not_kept(embedded_s3: Any, tmp_path: Path) -> None:
    data = os.urandom(100 * KIB)
    expected = hashlib.sha256(data).hexdigest()
    _put(embedded_s3, "cache-test/bad", data[:-1] + bytes([data[-1] ^ 1]))
    cache = ObjectCache(tmp_path / "cache", 1024 * KIB)
    with pytest.raises(CachedObjectMismatch, match="no longer matches its SHA-256"):
        cache.fetch(embedded_s3.client, embedded_s3.bucket, "cache-test/bad", expected)
    assert cache.entries() == [] and cache.get(expected) is None
    with pytest.raises(ObjectMissing):
        cache.fetch(embedded_s3.client, embedded_s3.bucket, "cache-test/none", expected)


def test_two_fetchers_of_one_object_download_it_once(embedded_s3: Any, tmp_path: Path) -> None:
    data = os.urandom(2 * 1024 * KIB)
    sha = _put(embedded_s3, "cache-test/shared", data)
    results = []

    def fetch() -> None:
        cache = ObjectCache(tmp_path / "cache", 8 * 1024 * KIB)
        results.append(cache.fetch(embedded_s3.client, embedded_s3.bucket, "cache-test/shared", sha))

    threads = [threading.Thread(target=fetch) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.fetched for r in results) == [False, True]
    assert results[0].path.read_bytes() == data
