"""Part hashes taken once, in the read that hashes the whole file, and sent from there: the server checks each
part, the client hashes nothing; a file changed since it was hashed is refused by the server and leaves no
object, no open upload and no resume record; an interrupted upload resumes with the parts it lacks."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from assets_manifest.hashing import digest_file
from core.part_hashes import PartHashes, hash_file_parts
from delivery import multipart
from delivery.errors import ChecksumMismatch
from delivery.multipart import composite_checksum, recorded_plan
from delivery.settings import S3Settings
from delivery.upload import head_checksum, upload_verified

if TYPE_CHECKING:
    from tests.conftest import EmbeddedS3Fixture

MIB = 1024 * 1024


def _noise(path: Path, size: int) -> bytes:
    data = b"".join(hashlib.sha512(i.to_bytes(8, "big")).digest() for i in range(-(-size // 64)))[:size]
    path.write_bytes(data)
    return data


def _independent(data: bytes, part_size: int) -> tuple[bytes, ...]:
    return tuple(hashlib.sha256(data[i:i + part_size]).digest() for i in range(0, len(data), part_size))


def test_one_read_gives_the_whole_sha256_and_each_parts(tmp_path: Path) -> None:
    data = _noise(tmp_path / "master.mov", 13 * MIB + 7)  # parts of 5 MiB across the reader's 4 MiB chunks
    part = 5 * MIB
    digest = digest_file(tmp_path / "master.mov", part)
    assert digest.sha256 == hashlib.sha256(data).hexdigest() and digest.size == len(data)
    assert digest.parts == PartHashes(part, _independent(data, part))
    assert digest_file(tmp_path / "master.mov").parts is None  # not asked: not taken
    whole, size, parts = hash_file_parts(tmp_path / "master.mov", part)
    assert (whole, size, parts) == (digest.sha256, len(data), digest.parts)
    assert PartHashes.from_blob(part, parts.blob()) == parts and len(parts.blob()) == 3 * 32
    # Recorded hashes only fit the file they were taken from: same parts adding up to its size now.
    assert recorded_plan(parts, len(data))[0] is not None
    assert recorded_plan(parts, len(data) + part)[0] is None
    assert recorded_plan(PartHashes(MIB, _independent(data, MIB)), len(data))[0] is None  # below S3's 5 MiB


def _settings(home: Path, threads: int = 3) -> S3Settings:
    # 8 MiB parts by the settings: the recorded 5 MiB parts must win (3 parts, not 2).
    return S3Settings(home=home, multipart_threshold_mib=5, part_size_mib=8, upload_threads=threads)


def _part_calls(client: Any, name: str) -> list[int]:
    calls: list[int] = []
    client.meta.events.register("before-parameter-build.s3.UploadPart",
                                lambda params, **_: calls.append(params["PartNumber"]), unique_id=name)
    return calls


class _Stop(Exception):
    pass


def test_recorded_part_hashes_are_sent_and_checked_by_the_server(
    embedded_s3: EmbeddedS3Fixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "master.mov"
    data = _noise(path, 12 * MIB + 5)
    sha_hex, _, parts = hash_file_parts(path, 5 * MIB)
    client, bucket, key = embedded_s3.client, embedded_s3.bucket, "masters/recorded-parts"
    settings = _settings(tmp_path / "home")

    def no_hashing(*_: object) -> None:
        raise AssertionError("the file was hashed at upload time")

    monkeypatch.setattr(multipart, "part_plan", no_hashing)
    answered: list[int] = []

    def stop_after_second(**_: Any) -> None:
        answered.append(1)
        if len(answered) == 2:
            raise _Stop  # part 2 reached the server, never recorded; part 3 never went

    calls = _part_calls(client, "recorded-parts")
    try:
        # Interrupted (one part at a time) as part 2 is answered: the re-run sends only the parts it lacks.
        client.meta.events.register("after-call.s3.UploadPart", stop_after_second, unique_id="recorded-stop")
        with pytest.raises(_Stop):
            upload_verified(client, bucket, key, path, _settings(tmp_path / "home", threads=1), sha256_hex=sha_hex,
                            part_hashes=parts)
        client.meta.events.unregister("after-call.s3.UploadPart", unique_id="recorded-stop")
        assert calls == [1, 2]
        done = upload_verified(client, bucket, key, path, settings, sha256_hex=sha_hex, part_hashes=parts)
    finally:
        client.meta.events.unregister("after-call.s3.UploadPart", unique_id="recorded-stop")
        client.meta.events.unregister("before-parameter-build.s3.UploadPart", unique_id="recorded-parts")
    assert (done.parts, done.parts_sent) == (3, 2) and sorted(calls[2:]) == [2, 3]
    stored = head_checksum(client, bucket, key)
    assert stored is not None and stored.bytes == len(data)
    plan, _ = recorded_plan(parts, len(data))
    assert plan is not None and stored.checksum == composite_checksum(plan) and stored.checksum.endswith("-3")
    assert stored.sha256 == base64.b64encode(bytes.fromhex(sha_hex)).decode()
    assert hashlib.sha256(client.get_object(Bucket=bucket, Key=key)["Body"].read()).digest() \
        == hashlib.sha256(data).digest()
    assert not list(settings.uploads_dir.iterdir())
    # Part hashes that do not make the file's size now are not used: the parts are hashed as they go, in the
    # settings' 8 MiB parts.
    fallback = upload_verified(client, bucket, f"{key}-fallback", path, settings, sha256_hex=sha_hex,
                               part_hashes=PartHashes(parts.part_size, parts.digests[:2]))
    assert (fallback.parts, fallback.parts_sent) == (2, 2)


def test_a_file_changed_since_it_was_hashed_is_refused_by_the_server_and_leaves_nothing(
    embedded_s3: EmbeddedS3Fixture, tmp_path: Path,
) -> None:
    path = tmp_path / "master.mov"
    _noise(path, 12 * MIB + 5)
    sha_hex, _, parts = hash_file_parts(path, 5 * MIB)
    with path.open("r+b") as f:  # same size, one byte flipped in the second part
        f.seek(7 * MIB)
        byte = f.read(1)
        f.seek(7 * MIB)
        f.write(bytes([byte[0] ^ 0xFF]))
    client, bucket, key = embedded_s3.client, embedded_s3.bucket, "masters/changed-after-hashing"
    settings = _settings(tmp_path / "home")
    with pytest.raises(ChecksumMismatch, match=r"part 2 .*refused.*(BadDigest|InvalidDigest|Mismatch).*aborted"):
        upload_verified(client, bucket, key, path, settings, sha256_hex=sha_hex, part_hashes=parts)
    assert head_checksum(client, bucket, key) is None
    assert client.list_multipart_uploads(Bucket=bucket, Prefix=key).get("Uploads", []) == []
    assert not list(settings.uploads_dir.iterdir())
