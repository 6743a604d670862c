"""Verified multipart uploads, resume after the S3 server dies, a second endpoint, and object verification."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest

from assets_manifest.ledger import Ledger
from assets_manifest.settings import LedgerSettings
from assets_manifest.store import Upload
from delivery.client import ensure_bucket, s3_client
from delivery.errors import ChecksumMismatch, S3Unreachable
from delivery.multipart import PartPlan, _send_part
from delivery.records import SHA256_METADATA
from delivery.seaweed import EmbeddedS3
from delivery.settings import S3Settings
from delivery.store import open_store
from delivery.upload import head_checksum, upload_verified
from delivery.verify import ObjectRecord, verify_ledger_uploads, verify_objects

if TYPE_CHECKING:
    from tests.conftest import EmbeddedS3Fixture

MIB = 1024 * 1024


def _file(path: Path, size: int) -> tuple[Path, str]:
    # Incompressible but reproducible bytes.
    block = hashlib.sha256(path.name.encode()).digest() * (MIB // 32)
    data = bytearray()
    counter = 0
    while len(data) < size:
        data += hashlib.sha256(counter.to_bytes(8, "big")).digest() + block[: MIB - 32]
        counter += 1
    path.write_bytes(bytes(data[:size]))
    return path, hashlib.sha256(bytes(data[:size])).hexdigest()


def _parts_of_5_mib(home: Path, threads: int = 8) -> S3Settings:
    """Settings that send anything of 5 MiB or more in 5 MiB parts (S3's smallest), with records under `home`."""
    return S3Settings(home=home, multipart_threshold_mib=5, part_size_mib=5, upload_threads=threads)


def _count_parts(client: Any) -> list[int]:
    calls: list[int] = []
    client.meta.events.register("before-call.s3.UploadPart", lambda params, **_: calls.append(1))
    return calls


class _Interrupted(Exception):
    """Raised from botocore's hook after a part's call: the server has the part, the uploader never hears."""


def _upload_stopped_after(client: Any, bucket: str, key: str, path: Path, settings: S3Settings, parts: int) -> None:
    """upload_verified, interrupted as the `parts`-th UploadPart returns (that part reached the server but was
    never recorded)."""
    answered: list[int] = []

    def stop(**_: Any) -> None:
        answered.append(1)
        if len(answered) == parts:
            raise _Interrupted

    client.meta.events.register("after-call.s3.UploadPart", stop, unique_id="stop-after")
    try:
        with pytest.raises(_Interrupted):
            upload_verified(client, bucket, key, path, settings)
    finally:
        client.meta.events.unregister("after-call.s3.UploadPart", unique_id="stop-after")


def test_multipart_upload_verifies_and_skips(embedded_s3: EmbeddedS3Fixture, tmp_path: Path) -> None:
    path, sha_hex = _file(tmp_path / "proxy-11mb.mp4", 11 * MIB + 123)
    client, bucket = embedded_s3.client, embedded_s3.bucket
    settings = _parts_of_5_mib(tmp_path)
    calls = _count_parts(client)
    result = upload_verified(
        client,
        bucket,
        "scenes/s01/proxy-11mb.mp4",
        path,
        settings,
        metadata={"docfilm-master-asset": "ab" * 32, "docfilm-scene": "s01-Cần Thơ"},
    )
    assert (result.parts, result.parts_sent, len(calls), result.skipped) == (3, 3, 3, False)
    stored = head_checksum(client, bucket, result.key)
    assert stored is not None
    assert stored.checksum is not None and stored.checksum.endswith("-3")  # composite: not the file's SHA-256
    assert stored.sha256 == result.checksum == base64.b64encode(bytes.fromhex(sha_hex)).decode()
    assert stored.content_type == "video/mp4"  # from core.vocabulary, by suffix
    assert hashlib.sha256(client.get_object(Bucket=bucket, Key=result.key)["Body"].read()).hexdigest() == sha_hex
    assert stored.metadata["docfilm-scene"] == "s01-C%E1%BA%A7n%20Th%C6%A1"
    assert not list(settings.uploads_dir.iterdir())  # no resume record is left once complete

    again = upload_verified(client, bucket, result.key, path, settings, sha256_hex=sha_hex)
    assert again.skipped and len(calls) == 3


def test_parts_are_sent_in_parallel_each_verified(embedded_s3: EmbeddedS3Fixture, tmp_path: Path) -> None:
    """With upload_threads > 1 parts travel at once: two parts must be in flight together to pass the barrier
    (sent one after the other, the first would wait there alone until the barrier breaks)."""
    import threading

    path, sha_hex = _file(tmp_path / "cut-16mb.mp4", 16 * MIB + 7)
    client, bucket = embedded_s3.client, embedded_s3.bucket
    together = threading.Barrier(2, timeout=20)
    threads_seen: set[str] = set()

    def meet(params: dict[str, Any], **_: Any) -> None:
        threads_seen.add(threading.current_thread().name)
        if params["PartNumber"] in (1, 2):
            together.wait()

    client.meta.events.register("before-parameter-build.s3.UploadPart", meet)
    try:
        result = upload_verified(client, bucket, "cuts/cut-16mb.mp4", path, _parts_of_5_mib(tmp_path, threads=4))
    finally:
        client.meta.events.unregister("before-parameter-build.s3.UploadPart", meet)
    assert (result.parts, result.parts_sent) == (4, 4) and len(threads_seen) >= 2
    body = client.get_object(Bucket=bucket, Key=result.key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == sha_hex  # parts assembled in order, whatever order they arrived in


def test_a_known_hash_is_checked_while_the_parts_go(embedded_s3: EmbeddedS3Fixture, tmp_path: Path) -> None:
    """With the ledger's SHA-256 given, the parts go at once, each hashed by its thread; the whole file's SHA-256
    is taken from the same bytes, and bytes that do not have the hash given never become an object."""
    path, sha_hex = _file(tmp_path / "master-12mb.mov", 12 * MIB + 5)
    client, bucket = embedded_s3.client, embedded_s3.bucket
    settings = _parts_of_5_mib(tmp_path / "right", threads=3)
    done = upload_verified(client, bucket, "masters/known", path, settings, sha256_hex=sha_hex)
    assert (done.parts, done.parts_sent) == (3, 3)
    stored = head_checksum(client, bucket, "masters/known")
    assert stored is not None and stored.sha256 == base64.b64encode(bytes.fromhex(sha_hex)).decode()

    wrong = hashlib.sha256(b"another file").hexdigest()  # the file changed since the ledger hashed it
    settings = _parts_of_5_mib(tmp_path / "wrong", threads=3)
    with pytest.raises(ChecksumMismatch, match="not completed"):
        upload_verified(client, bucket, "masters/changed", path, settings, sha256_hex=wrong)
    assert head_checksum(client, bucket, "masters/changed") is None
    assert client.list_multipart_uploads(Bucket=bucket, Prefix="masters/changed").get("Uploads", []) == []
    assert not list(settings.uploads_dir.iterdir())


def test_corrupted_part_is_refused_and_not_retried(embedded_s3: EmbeddedS3Fixture) -> None:
    client, bucket = embedded_s3.client, embedded_s3.bucket
    key = "scenes/s02/corrupt.bin"
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256")["UploadId"]
    calls = _count_parts(client)
    body = b"x" * MIB
    wrong = PartPlan(1, 0, len(body), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")  # SHA-256 of b""
    try:
        with pytest.raises(ChecksumMismatch, match="part 1"):
            _send_part(client, bucket, key, upload_id, wrong, body, "part 1 of corrupt.bin")
        assert len(calls) == 1
    finally:
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)


def test_killed_server_resumes_without_resending_verified_parts(tmp_path: Path) -> None:
    path, sha_hex = _file(tmp_path / "packet.zip", 11 * MIB)
    home = tmp_path / "home"
    settings = _parts_of_5_mib(tmp_path / "client", threads=1)  # one part at a time: an exact kill point
    key = "packets/packet.zip"
    server = EmbeddedS3(home).start()
    try:
        assert server.pid is not None and server.endpoint_url is not None
        client = s3_client(server.endpoint_url, server.access_key, server.secret_key, max_attempts=1)
        ensure_bucket(client, "resume", "us-east-1")
        sent: list[int] = []

        # The kill point: the server dies right after accepting part 2 of 3, before part 3 is sent.
        def kill_after_second(**_: Any) -> None:
            sent.append(1)
            if len(sent) == 2:
                os.kill(server.pid or 0, signal.SIGKILL)

        client.meta.events.register("after-call.s3.UploadPart", kill_after_second)
        with pytest.raises(S3Unreachable) as down:
            upload_verified(client, "resume", key, path, settings)
        assert len(sent) == 2
        assert down.value.exit_code == 3 and f"127.0.0.1:{server.ports['s3']}" in str(down.value)
        client.close()
    finally:
        server.stop()

    with EmbeddedS3(home) as again:
        assert again.endpoint_url is not None
        client = s3_client(again.endpoint_url, again.access_key, again.secret_key)
        calls = _count_parts(client)
        result = upload_verified(client, "resume", key, path, settings)
        assert (result.parts, result.parts_sent, len(calls)) == (3, 1, 1)
        body = client.get_object(Bucket="resume", Key=key)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == sha_hex
        assert not list(settings.uploads_dir.iterdir())  # the resume record is gone once complete
        report = verify_objects(client, [ObjectRecord("resume", key, sha_hex, len(body))])
        assert (report.checked, report.mismatched, report.missing) == (1, (), ())
        client.close()


def test_resume_record_appends_one_line_per_part_and_survives_a_torn_line(
    embedded_s3: EmbeddedS3Fixture, tmp_path: Path
) -> None:
    """Each accepted part appends one line to the record (not a rewrite of it); a line torn by a kill mid-write is
    ignored on resume, so only that part and those after it go again."""
    client, bucket = embedded_s3.client, embedded_s3.bucket
    path, sha_hex = _file(tmp_path / "review-cut.mp4", 11 * MIB)
    key, settings = "cuts/torn/review-cut.mp4", _parts_of_5_mib(tmp_path, threads=1)
    _upload_stopped_after(client, bucket, key, path, settings, parts=2)  # part 2 reached the server, unrecorded
    (record,) = settings.uploads_dir.iterdir()
    first, *appended = record.read_text(encoding="utf-8").splitlines()
    assert json.loads(first)["parts"] == {}
    assert [json.loads(line)["part"] for line in appended] == [1]
    with record.open("a", encoding="utf-8") as torn:
        torn.write('{"part": 2, "etag": "\\"0123')  # killed in the middle of the next line

    calls = _count_parts(client)
    result = upload_verified(client, bucket, key, path, settings, sha256_hex=sha_hex)
    assert (result.parts, result.parts_sent, len(calls)) == (3, 2, 2)
    assert hashlib.sha256(client.get_object(Bucket=bucket, Key=key)["Body"].read()).hexdigest() == sha_hex
    assert not list(settings.uploads_dir.iterdir())


def test_second_endpoint_via_open_store_and_verify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with EmbeddedS3(tmp_path / "other-home") as other:
        assert other.endpoint_url is not None
        # With an endpoint set, the keys come from the AWS credential chain.
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", other.access_key)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", other.secret_key)
        settings = S3Settings(
            endpoint_url=other.endpoint_url,
            bucket="other-bucket",
            home=tmp_path / "docfilm-home",
            multipart_threshold_mib=5,
            part_size_mib=5,
        )
        small, small_sha = _file(tmp_path / "poster.jpg", 300_000)
        big, big_sha = _file(tmp_path / "proxy.mp4", 11 * MIB)
        with open_store(settings) as (client, bucket):
            assert bucket == "other-bucket"
            one = upload_verified(client, bucket, "s03/poster.jpg", small, settings)
            two = upload_verified(client, bucket, "s03/proxy.mp4", big, settings)
            assert two.parts == 3
            assert (tmp_path / "docfilm-home" / "s3" / "uploads").is_dir()
            head = client.head_object(Bucket=bucket, Key=two.key, ChecksumMode="ENABLED")
            assert head["Metadata"][SHA256_METADATA] == two.checksum
            records = [
                ObjectRecord(bucket, one.key, small_sha, one.bytes),
                ObjectRecord(bucket, two.key, big_sha, two.bytes),
                ObjectRecord(bucket, "s03/never.jpg", small_sha, one.bytes),
            ]
            client.delete_object(Bucket=bucket, Key=one.key)  # behind docfilm's back
            client.put_object(Bucket=bucket, Key="s03/never.jpg", Body=b"other bytes")
            report = verify_objects(client, records)
            assert report.to_json() == {
                "checked": 3,
                "mismatched": [f"s3://{bucket}/s03/never.jpg"],
                "missing": [f"s3://{bucket}/s03/poster.jpg"],
                "other_buckets": 0,
            }
        # The same through the ledger-row entry point `docfilm verify` uses (rows of another bucket not checked).
        rows = [SimpleNamespace(bucket=r.bucket, key=r.key, sha256=r.sha256, bytes=r.bytes) for r in records]
        rows.append(SimpleNamespace(bucket="elsewhere", key="x", sha256=small_sha, bytes=1))
        assert verify_ledger_uploads(rows, settings).to_json() == {
            "checked": 3,
            "mismatched": ["s3://other-bucket/s03/never.jpg"],
            "missing": ["s3://other-bucket/s03/poster.jpg"],
            "other_buckets": 1,
        }


def test_changed_file_aborts_the_unfinished_upload(embedded_s3: EmbeddedS3Fixture, tmp_path: Path) -> None:
    client, bucket = embedded_s3.client, embedded_s3.bucket
    path, _ = _file(tmp_path / "contact.png", 11 * MIB)
    key, settings = "scenes/s04/contact.png", _parts_of_5_mib(tmp_path)
    _upload_stopped_after(client, bucket, key, path, settings, parts=1)
    stale = {u["UploadId"] for u in client.list_multipart_uploads(Bucket=bucket, Prefix=key).get("Uploads", [])}
    assert len(stale) == 1

    path, sha_hex = _file(tmp_path / "contact.png", 11 * MIB + 1)  # re-rendered: other bytes
    calls = _count_parts(client)
    result = upload_verified(client, bucket, key, path, settings)
    assert (result.parts, result.parts_sent, len(calls)) == (3, 3, 3)
    left = {u["UploadId"] for u in client.list_multipart_uploads(Bucket=bucket, Prefix=key).get("Uploads", [])}
    assert not left & stale
    assert hashlib.sha256(client.get_object(Bucket=bucket, Key=key)["Body"].read()).hexdigest() == sha_hex


def test_docfilm_verify_reports_objects_changed_behind_its_back(embedded_s3: EmbeddedS3Fixture, tmp_path: Path) -> None:
    client, bucket = embedded_s3.client, embedded_s3.bucket
    home = tmp_path / "home"
    ledger = Ledger.open(LedgerSettings(home=home))
    rows = []
    for name in ("kept", "deleted", "replaced"):
        path, sha_hex = _file(tmp_path / f"{name}.jpg", 200_000)
        res = upload_verified(client, bucket, f"cli/{name}.jpg", path, S3Settings(home=home))
        rows.append(
            Upload(
                endpoint=embedded_s3.endpoint_url,
                bucket=bucket,
                key=res.key,
                local_path=str(path),
                sha256=sha_hex,
                checksum=res.checksum,
                bytes=res.bytes,
                etag=res.etag,
                role="poster",
            )
        )
    ledger.record_uploads(rows)
    ledger.close()
    client.delete_object(Bucket=bucket, Key="cli/deleted.jpg")
    client.put_object(Bucket=bucket, Key="cli/replaced.jpg", Body=b"not the poster")

    env = dict(
        os.environ,
        DOCFILM_HOME=str(home),
        DOCFILM_S3_ENDPOINT_URL=embedded_s3.endpoint_url,
        DOCFILM_S3_BUCKET=bucket,
        AWS_ACCESS_KEY_ID=embedded_s3.access_key,
        AWS_SECRET_ACCESS_KEY=embedded_s3.secret_key,
    )
    done = subprocess.run(
        [str(Path(sys.executable).parent / "docfilm"), "verify", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["objects"] == {
        "checked": 3,
        "mismatched": [f"s3://{bucket}/cli/replaced.jpg"],
        "missing": [f"s3://{bucket}/cli/deleted.jpg"],
        "other_buckets": 0,
    }

    # The same command against a wrong secret, then against an endpoint that is down: exit 3, the endpoint named
    # as host:port, no secret and no traceback.
    wrong_secret = "wrong-secret-" + embedded_s3.secret_key[::-1]
    refused = subprocess.run(
        [str(Path(sys.executable).parent / "docfilm"), "verify", "--json"],
        capture_output=True,
        text=True,
        env={**env, "AWS_SECRET_ACCESS_KEY": wrong_secret},
        timeout=120,
    )
    endpoint = embedded_s3.endpoint_url.removeprefix("http://")
    assert refused.returncode == 3, refused.stderr
    assert f"S3 endpoint {endpoint} rejected the credentials" in refused.stderr
    assert "AWS_SECRET_ACCESS_KEY" in refused.stderr and "Traceback" not in refused.stderr
    for secret in (wrong_secret, embedded_s3.secret_key):
        assert secret not in refused.stderr + refused.stdout

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # bound, never listening: connections to it are refused
        down = subprocess.run(
            [str(Path(sys.executable).parent / "docfilm"), "verify", "--json"],
            capture_output=True,
            text=True,
            env={**env, "DOCFILM_S3_ENDPOINT_URL": f"http://127.0.0.1:{closed}", "DOCFILM_S3_MAX_ATTEMPTS": "1"},
            timeout=120,
        )
    assert down.returncode == 3, down.stderr
    assert f"S3 endpoint 127.0.0.1:{closed} unreachable" in down.stderr and "Traceback" not in down.stderr
    assert embedded_s3.secret_key not in down.stderr + down.stdout


def test_a_file_changed_under_an_unfinished_upload_is_refused_and_that_upload_aborted(
    embedded_s3: EmbeddedS3Fixture, tmp_path: Path
) -> None:
    """The ledger's SHA-256 no longer matches the file (a damaged library copy): nothing is sent, and the upload an
    interrupted run left open is aborted with its record, not left on the server for ever."""
    client, bucket = embedded_s3.client, embedded_s3.bucket
    path, sha_hex = _file(tmp_path / "master.mov", 11 * MIB)
    key, settings = "masters/damaged", _parts_of_5_mib(tmp_path)
    _upload_stopped_after(client, bucket, key, path, settings, parts=1)
    stale = {u["UploadId"] for u in client.list_multipart_uploads(Bucket=bucket, Prefix=key).get("Uploads", [])}
    assert len(stale) == 1 and list(settings.uploads_dir.glob("*.json"))

    data = bytearray(path.read_bytes())
    data[6 * MIB] ^= 0xFF  # same size, one byte of part 2 changed
    path.write_bytes(bytes(data))
    calls = _count_parts(client)
    with pytest.raises(ChecksumMismatch, match="changed since it was hashed"):
        upload_verified(client, bucket, key, path, settings, sha256_hex=sha_hex)
    assert calls == []
    assert client.list_multipart_uploads(Bucket=bucket, Prefix=key).get("Uploads", []) == []
    assert list(settings.uploads_dir.glob("*.json")) == []
    assert head_checksum(client, bucket, key) is None
