"""Delivery against a real embedded SeaweedFS: verified uploads, presigned links, credentials, loopback-only."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError

from core.errors import EXIT_ENV, exit_code_of
from delivery.client import client_error_code, ensure_bucket, s3_client, translate_errors
from delivery.errors import (
    ChecksumMismatch,
    EmbeddedS3Failed,
    EmbeddedS3PortTaken,
    S3CredentialsError,
    S3Unreachable,
)
from delivery.seaweed import GRPC_OFFSET, EmbeddedS3, listening_sockets
from delivery.settings import S3Settings
from delivery.store import open_store, store_kept_up
from delivery.upload import decode_metadata, presign_get, upload_verified

if TYPE_CHECKING:
    from conftest import EmbeddedS3Fixture


def _write(path: Path, size: int, seed: bytes = b"docfilm") -> Path:
    block = hashlib.sha256(seed).digest() * 2048  # 64 KiB of varied bytes
    path.write_bytes((block * (size // len(block) + 1))[:size])
    return path


def _sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _process_gone(pid: object) -> bool:
    """True when `pid` has exited (a zombie waiting for init to reap it counts as gone)."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat_line.rsplit(")", 1)[1].split()[0] == "Z"


@pytest.fixture
def settings(tmp_path: Path) -> S3Settings:
    """Delivery settings for uploads to the session's server: the defaults, records under the test's home."""
    return S3Settings(home=tmp_path / "home")


@pytest.fixture
def no_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """An AWS credential chain that finds nothing (no env keys, no profile files, no instance metadata)."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


def test_upload_stores_exact_bytes(embedded_s3: EmbeddedS3Fixture, tmp_path: Path, settings: S3Settings) -> None:
    source = _write(tmp_path / "Bến Ninh Kiều.mp4", 300_001)
    data = source.read_bytes()
    result = upload_verified(embedded_s3.client, embedded_s3.bucket, "S03/ben-ninh-kieu.mp4", source, settings)
    assert not result.skipped
    assert result.bytes == len(data)
    assert result.checksum == _sha256_b64(data)
    stored = embedded_s3.client.get_object(Bucket=embedded_s3.bucket, Key="S03/ben-ninh-kieu.mp4")
    assert hashlib.sha256(stored["Body"].read()).hexdigest() == hashlib.sha256(data).hexdigest()
    assert stored["ETag"] == result.etag


def test_second_upload_is_skipped_and_a_changed_file_is_sent(
    embedded_s3: EmbeddedS3Fixture, tmp_path: Path, settings: S3Settings
) -> None:
    client, bucket, key = embedded_s3.client, embedded_s3.bucket, "S01/again.mov"
    source = _write(tmp_path / "again.mov", 70_000)
    first = upload_verified(client, bucket, key, source, settings)
    again = upload_verified(client, bucket, key, source, settings)
    with_hash = upload_verified(
        client, bucket, key, source, settings, sha256_hex=hashlib.sha256(source.read_bytes()).hexdigest()
    )
    assert (first.skipped, again.skipped, with_hash.skipped) == (False, True, True)
    assert again.checksum == first.checksum and again.etag == first.etag

    _write(source, 70_000, seed=b"re-graded")
    changed = upload_verified(client, bucket, key, source, settings)
    assert not changed.skipped
    assert changed.checksum == _sha256_b64(source.read_bytes()) != first.checksum


def test_server_rejects_a_wrong_checksum(embedded_s3: EmbeddedS3Fixture) -> None:
    client, bucket = embedded_s3.client, embedded_s3.bucket
    with pytest.raises(ClientError) as caught:
        client.put_object(
            Bucket=bucket,
            Key="S01/wrong.bin",
            Body=b"the bytes we send",
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=_sha256_b64(b"other bytes"),
        )
    assert client_error_code(caught.value) == "BadDigest"
    with pytest.raises(ClientError) as missing:
        client.head_object(Bucket=bucket, Key="S01/wrong.bin")
    assert client_error_code(missing.value) == "404"


def test_a_body_with_its_checksum_is_signed_through_that_header_only(embedded_s3: EmbeddedS3Fixture) -> None:
    """With x-amz-checksum-sha256 sent (and signed), the body is not hashed again for the signature; other
    requests keep their payload hash. The server still checks the body against the header (test above)."""
    client, bucket = embedded_s3.client, embedded_s3.bucket
    sent: dict[str, dict[str, str]] = {}

    def capture(request: object, **kwargs: object) -> None:
        headers = getattr(request, "headers", {})
        sent[str(kwargs["event_name"]).rsplit(".", 1)[-1]] = {
            k.lower(): v.decode() if isinstance(v, bytes) else str(v) for k, v in headers.items()
        }

    client.meta.events.register("before-send.s3.PutObject", capture)
    client.meta.events.register("before-send.s3.HeadObject", capture)
    try:
        body = b"the bytes we send"
        client.put_object(Bucket=bucket, Key="S01/signed.bin", Body=body, ChecksumAlgorithm="SHA256",
                          ChecksumSHA256=_sha256_b64(body))
        assert client.head_object(Bucket=bucket, Key="S01/signed.bin")["ContentLength"] == len(body)
    finally:
        client.meta.events.unregister("before-send.s3.PutObject", capture)
        client.meta.events.unregister("before-send.s3.HeadObject", capture)
    put, head = sent["PutObject"], sent["HeadObject"]
    assert put["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    assert "x-amz-checksum-sha256" in put["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    assert head["x-amz-content-sha256"] == hashlib.sha256(b"").hexdigest()


def test_stale_ledger_hash_raises_checksum_mismatch(
    embedded_s3: EmbeddedS3Fixture, tmp_path: Path, settings: S3Settings
) -> None:
    source = _write(tmp_path / "edited.mov", 10_000)
    stale = hashlib.sha256(b"what the ledger saw before someone edited the file").hexdigest()
    with pytest.raises(ChecksumMismatch, match="refused .*edited.mov"):
        upload_verified(embedded_s3.client, embedded_s3.bucket, "S01/edited.mov", source, settings, sha256_hex=stale)
    with pytest.raises(ClientError):
        embedded_s3.client.head_object(Bucket=embedded_s3.bucket, Key="S01/edited.mov")


def test_metadata_keeps_vietnamese_and_content_type(
    embedded_s3: EmbeddedS3Fixture, tmp_path: Path, settings: S3Settings
) -> None:
    source = _write(tmp_path / "poster.jpg", 1_000)
    metadata = {
        "scene": "S03",
        "title": "Cảnh 3: Bến Ninh Kiều — 100% thật",
        "Source-Name": "ảnh.jpg",
        "note": " lề trái\tvà phải ",
    }
    upload_verified(
        embedded_s3.client, embedded_s3.bucket, "S03/poster.jpg", source, settings, metadata=metadata,
        content_type="image/jpeg",
    )
    head = embedded_s3.client.head_object(Bucket=embedded_s3.bucket, Key="S03/poster.jpg")
    assert head["ContentType"] == "image/jpeg"
    assert all(value.isascii() for value in head["Metadata"].values())
    assert decode_metadata(head["Metadata"]) == {
        "scene": "S03",
        "title": "Cảnh 3: Bến Ninh Kiều — 100% thật",
        "source-name": "ảnh.jpg",
        "note": " lề trái\tvà phải ",
    }


def test_presigned_url_serves_exact_bytes_and_ranges(
    embedded_s3: EmbeddedS3Fixture, tmp_path: Path, settings: S3Settings
) -> None:
    source = _write(tmp_path / "proxy.mp4", 200_000, seed=b"proxy")
    data = source.read_bytes()
    key = "S02/Cần-Thơ proxy.mp4"
    upload_verified(embedded_s3.client, embedded_s3.bucket, key, source, settings, content_type="video/mp4")
    url = presign_get(embedded_s3.client, embedded_s3.bucket, key, 3600)
    assert url.startswith(embedded_s3.endpoint_url)
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == data
    # A browser seeking in the review packet sends Range requests.
    ranged = urllib.request.Request(url, headers={"Range": "bytes=1000-1999"})
    with urllib.request.urlopen(ranged, timeout=10) as response:
        assert response.status == 206
        assert response.read() == data[1000:2000]
    unsigned = f"{embedded_s3.endpoint_url}/{embedded_s3.bucket}/{urllib.parse.quote(key)}"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(unsigned, timeout=10)
    assert refused.value.code == 403


def test_links_over_seven_days_are_refused_here_and_by_the_server(embedded_s3: EmbeddedS3Fixture) -> None:
    fourteen_days = 14 * 86_400
    with pytest.raises(ValueError, match="7 days"):
        presign_get(embedded_s3.client, embedded_s3.bucket, "S02/x", fourteen_days)
    embedded_s3.client.put_object(Bucket=embedded_s3.bucket, Key="S02/x", Body=b"x")
    url = embedded_s3.client.generate_presigned_url(
        "get_object", Params={"Bucket": embedded_s3.bucket, "Key": "S02/x"}, ExpiresIn=fourteen_days
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=10)
    assert refused.value.code in {400, 403}


def _sign_at(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    """Make botocore's SigV4 signer read `moment` as the time now (it signs with naive UTC)."""
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda *_, **__: moment.replace(tzinfo=None))


def test_presigned_link_is_refused_once_expired(
    embedded_s3: EmbeddedS3Fixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, bucket, key = embedded_s3.client, embedded_s3.bucket, "S02/expiry.txt"
    client.put_object(Bucket=bucket, Key=key, Body=b"still here")
    now = datetime.now(UTC)
    # Signed ten minutes ago: with 15 minutes to live it still works, with 5 minutes it expired 5 minutes ago.
    _sign_at(monkeypatch, now - timedelta(minutes=10))
    living = presign_get(client, bucket, key, 15 * 60)
    expired = presign_get(client, bucket, key, 5 * 60)
    monkeypatch.undo()
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(expired).query)["X-Amz-Date"] == [
        (now - timedelta(minutes=10)).strftime("%Y%m%dT%H%M%SZ")
    ]
    with urllib.request.urlopen(living, timeout=10) as response:
        assert response.read() == b"still here"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(expired, timeout=10)
    assert refused.value.code == 403
    assert b"expired" in refused.value.read().lower()


def test_credentials_are_private_and_never_logged(embedded_s3: EmbeddedS3Fixture) -> None:
    server = embedded_s3.server
    for private in (server.credentials_path, server.s3_config_path):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600, private
    assert stat.S_IMODE(server.state_dir.stat().st_mode) == 0o700
    assert json.loads(server.credentials_path.read_text())["secret_key"] == embedded_s3.secret_key
    secret = embedded_s3.secret_key.encode()
    for public in (server.log_path, server.server_path, server.ports_path):
        assert secret not in public.read_bytes(), public
    assert secret not in Path(f"/proc/{server.pid}/cmdline").read_bytes()
    assert secret not in Path(f"/proc/{server.pid}/environ").read_bytes()
    assert "secret_key" not in json.loads(server.server_path.read_text())


def test_weed_listens_on_loopback_only(embedded_s3: EmbeddedS3Fixture) -> None:
    server = embedded_s3.server
    assert server.pid is not None
    expected = {port for http in server.ports.values() for port in (http, http + GRPC_OFFSET)}
    # The admin HTTP port opens a moment after S3 answers.
    deadline = time.monotonic() + 10
    while {port for _, port in listening_sockets(server.pid)} != expected and time.monotonic() < deadline:
        time.sleep(0.1)
    sockets = listening_sockets(server.pid)
    assert {port for _, port in sockets} == expected
    assert {address for address, _ in sockets} == {"127.0.0.1"}
    if shutil.which("ss"):
        table = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
        ours = [line.split()[3] for line in table.splitlines() if f"pid={server.pid}," in line]
        assert ours and all(local.startswith("127.0.0.1:") for local in ours)
        assert {int(local.rsplit(":", 1)[1]) for local in ours} == expected


def test_attach_or_start_reuses_the_live_server(embedded_s3: EmbeddedS3Fixture) -> None:
    with EmbeddedS3.attach_or_start(embedded_s3.home) as attached:
        assert not attached.owned
        assert attached.pid == embedded_s3.server.pid
        assert attached.endpoint_url == embedded_s3.endpoint_url
        assert attached.access_key == embedded_s3.access_key
    assert embedded_s3.server.is_running()
    embedded_s3.client.list_buckets()  # still answering after the attached context closed
    with pytest.raises(EmbeddedS3Failed, match="already serves"):
        EmbeddedS3(embedded_s3.home).start()


def test_open_store_embedded_attaches_and_creates_the_bucket(embedded_s3: EmbeddedS3Fixture) -> None:
    settings = S3Settings(home=embedded_s3.home, bucket="docfilm-open-store")
    with open_store(settings) as (client, bucket):
        assert bucket == "docfilm-open-store"
        assert client.meta.endpoint_url == embedded_s3.endpoint_url
        client.head_bucket(Bucket=bucket)
    assert embedded_s3.server.is_running()


def test_store_kept_up_gives_the_blocks_open_stores_one_server_and_stops_it(tmp_path: Path) -> None:
    settings = S3Settings(home=tmp_path / "home", bucket="kept-up")
    record = tmp_path / "home" / "s3" / "server.json"
    with store_kept_up(settings):
        endpoints = []
        for name in ("proxy.mp4", "index.html"):  # as upload, then the hosted packet
            with open_store(settings) as (client, bucket):
                client.put_object(Bucket=bucket, Key=name, Body=b"x")
                endpoints.append(client.meta.endpoint_url)
            pid = json.loads(record.read_text())["pid"]
            assert os.path.exists(f"/proc/{pid}"), "the block's server outlives each open_store"
        assert endpoints[0] == endpoints[1]
    assert not record.exists(), "stopped when the block ends"
    assert not os.path.exists(f"/proc/{pid}") or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()


def test_store_kept_up_leaves_a_failed_start_to_open_store(tmp_path: Path) -> None:
    settings = S3Settings(home=tmp_path / "home", weed_binary=tmp_path / "no-weed")
    with store_kept_up(settings), pytest.raises(EmbeddedS3Failed), open_store(settings):
        pass


def test_open_store_with_endpoint_uses_the_aws_credential_chain(
    embedded_s3: EmbeddedS3Fixture, no_aws_env: pytest.MonkeyPatch
) -> None:
    settings = S3Settings(endpoint_url=embedded_s3.endpoint_url, bucket=embedded_s3.bucket, home=embedded_s3.home)
    with pytest.raises(S3CredentialsError, match="no usable credentials"), open_store(settings):
        pass
    no_aws_env.setenv("AWS_ACCESS_KEY_ID", embedded_s3.access_key)
    no_aws_env.setenv("AWS_SECRET_ACCESS_KEY", embedded_s3.secret_key)
    with open_store(settings) as (client, bucket):
        assert bucket == embedded_s3.bucket
        client.head_bucket(Bucket=bucket)


def test_wrong_secret_is_a_credentials_error(
    embedded_s3: EmbeddedS3Fixture, no_aws_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    wrong = "not-the-secret-" + embedded_s3.secret_key[:8]
    endpoint = embedded_s3.endpoint_url.removeprefix("http://")
    # As a user meets it: DOCFILM_S3_ENDPOINT_URL set, the real access key, a wrong secret in the AWS chain.
    no_aws_env.setenv("AWS_ACCESS_KEY_ID", embedded_s3.access_key)
    no_aws_env.setenv("AWS_SECRET_ACCESS_KEY", wrong)
    settings = S3Settings(endpoint_url=embedded_s3.endpoint_url, bucket=embedded_s3.bucket, home=tmp_path)
    with pytest.raises(S3CredentialsError) as caught, open_store(settings):
        pass
    message = str(caught.value)
    assert exit_code_of(caught.value) == EXIT_ENV
    assert f"S3 endpoint {endpoint} rejected the credentials" in message
    assert "AWS_ACCESS_KEY_ID" in message and "AWS_SECRET_ACCESS_KEY" in message
    assert wrong not in message and embedded_s3.secret_key not in message and "http://" not in message

    client = s3_client(embedded_s3.endpoint_url, embedded_s3.access_key, wrong)
    with (
        pytest.raises(S3CredentialsError, match="rejected the credentials") as listed,
        translate_errors(embedded_s3.endpoint_url, "listing buckets"),
    ):
        client.list_buckets()
    assert wrong not in str(listed.value) and endpoint in str(listed.value)


def test_unreachable_endpoint_raises_s3_unreachable(no_aws_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = "example-secret-never-shown"
    no_aws_env.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    no_aws_env.setenv("AWS_SECRET_ACCESS_KEY", secret)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: the port stays ours and refuses connections
        port = closed.getsockname()[1]
        settings = S3Settings(endpoint_url=f"http://user:pass@127.0.0.1:{port}/base", home=tmp_path)
        began = time.monotonic()
        with pytest.raises(S3Unreachable) as caught, open_store(settings):
            pass
    assert time.monotonic() - began < 30
    message = str(caught.value)
    assert type(caught.value) is S3Unreachable and caught.value.exit_code == EXIT_ENV
    assert f"S3 endpoint 127.0.0.1:{port} unreachable" in message and "Connection refused" in message
    assert secret not in message and "pass" not in message and "/base" not in message


def test_max_attempts_is_how_often_a_request_is_tried(no_aws_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """DOCFILM_S3_MAX_ATTEMPTS: an endpoint that accepts and drops every connection (a failure botocore retries)
    gets one more request per attempt allowed, then is reported unreachable. (Under botocore, urllib3 sends a
    request whose connection was dropped unanswered once more: one attempt is at most two connections.)"""
    import contextlib
    import threading

    no_aws_env.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    no_aws_env.setenv("AWS_SECRET_ACCESS_KEY", "example-secret")
    requests: dict[int, int] = {}
    for attempts in (1, 2):
        accepted: list[bytes] = []
        with socket.socket() as server:
            server.bind(("127.0.0.1", 0))
            server.listen(8)

            def drop(listening: socket.socket = server, seen: list[bytes] = accepted) -> None:
                with contextlib.suppress(OSError):
                    while True:
                        conn, _ = listening.accept()
                        with conn:
                            seen.append(conn.recv(64))

            threading.Thread(target=drop, daemon=True).start()
            no_aws_env.setenv("DOCFILM_S3_MAX_ATTEMPTS", str(attempts))
            settings = S3Settings(endpoint_url=f"http://127.0.0.1:{server.getsockname()[1]}", home=tmp_path)
            with pytest.raises(S3Unreachable), open_store(settings):
                pass
        assert all(r.startswith(b"HEAD /docfilm ") for r in accepted), accepted
        requests[attempts] = len(accepted)
    assert requests[1] <= 2 and requests[2] == requests[1] + 1, requests


def test_second_instance_restart_keeps_credentials_data_and_endpoint(
    embedded_s3: EmbeddedS3Fixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Real AWS keys in the environment must not become valid keys of the embedded store.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUSERSREALKEY0000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "users-real-secret")
    # Too long for Unix socket paths under it: weed's sockets must go to a short private dir instead.
    home = tmp_path / ("second-home-" + "x" * 100)
    source = _write(tmp_path / "keep.mov", 50_000)
    settings = S3Settings(home=home)
    with EmbeddedS3(home) as first:
        assert first.owned and first.pid != embedded_s3.server.pid
        assert set(first.ports.values()).isdisjoint(embedded_s3.server.ports.values())
        assert first.endpoint_url is not None
        client = s3_client(first.endpoint_url, first.access_key, first.secret_key)
        ensure_bucket(client, "keep", "us-east-1")
        uploaded = upload_verified(client, "keep", "S01/keep.mov", source, settings)
        intruder = s3_client(first.endpoint_url, "AKIAUSERSREALKEY0000", "users-real-secret")
        with pytest.raises(ClientError):
            intruder.list_buckets()
        endpoint, access_key, pid = first.endpoint_url, first.access_key, first.pid
        assert pid is not None
        # A live weed that stops answering is reported, never joined by a second weed on the same data.
        os.kill(pid, signal.SIGSTOP)
        try:
            with pytest.raises(EmbeddedS3Failed, match="does not answer"):
                EmbeddedS3.attach_or_start(home, attach_timeout=1.0)
        finally:
            os.kill(pid, signal.SIGCONT)
    # Stopped by us: gracefully in 1-2 s on a quiet machine; on a loaded one weed may outlive the grace and be
    # killed, which must lose nothing it acknowledged (the restart below finds the object). Not a timing test.
    assert first.stopped_in is not None
    print(f"embedded S3: started in {first.started_in:.2f} s, stopped in {first.stopped_in:.2f} s")
    assert not first.server_path.exists()
    assert not first.is_running()
    assert _process_gone(pid)

    with EmbeddedS3(home) as second:
        assert second.access_key == access_key
        assert second.endpoint_url == endpoint  # ports reused: old presigned links keep their host
        client = s3_client(endpoint, second.access_key, second.secret_key)
        again = upload_verified(client, "keep", "S01/keep.mov", source, settings)
        assert again.skipped and again.checksum == uploaded.checksum
    print(f"embedded S3 restart: started in {second.started_in:.2f} s, stopped in {second.stopped_in:.2f} s")
    # weed leaves its gRPC sockets in /tmp; stop() removes them once nothing listens.
    leftovers = [f"/tmp/seaweedfs-{name}-grpc-{port + GRPC_OFFSET}.sock" for name, port in second.ports.items()]
    assert not [path for path in leftovers if Path(path).exists()]


def test_a_port_lost_at_bind_is_retried_on_new_ports(tmp_path: Path) -> None:
    """weed exiting on a busy port is retried with other ports (up to three starts); other failures are not."""
    fake = tmp_path / "weed"
    fake.write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path / 'starts'}\n"
                    "echo 'F s3.go:448 failed to listen on grpc port: bind: address already in use' >&2\nexit 255\n")
    fake.chmod(0o755)
    with pytest.raises(EmbeddedS3PortTaken, match="address already in use"):
        EmbeddedS3(tmp_path / "home", weed_binary=fake).start()
    starts = (tmp_path / "starts").read_text().splitlines()
    assert len(starts) == 3
    s3_ports = {re.search(r"-s3\.port=(\d+)", line).group(1) for line in starts}  # type: ignore[union-attr]
    assert len(s3_ports) > 1, "a retry draws new ports"


def test_failed_start_raises_with_the_log_tail(tmp_path: Path) -> None:
    fake = tmp_path / "weed"
    fake.write_text("#!/bin/sh\necho 'fatal: volume dir is corrupt' >&2\nexit 7\n")
    fake.chmod(0o755)
    with pytest.raises(EmbeddedS3Failed, match="(?s)status 7.*volume dir is corrupt"):
        EmbeddedS3(tmp_path / "home", weed_binary=fake).start()


def test_start_that_never_answers_times_out_and_is_killed(tmp_path: Path) -> None:
    fake = tmp_path / "weed"
    pid_file = tmp_path / "fake.pid"
    fake.write_text(f"#!/bin/sh\necho $$ > {pid_file}\necho 'listening soon'\nexec sleep 600\n")
    fake.chmod(0o755)
    server = EmbeddedS3(tmp_path / "home", weed_binary=fake, startup_timeout=1.5, stop_timeout=2)
    with pytest.raises(EmbeddedS3Failed, match="(?s)did not answer.*listening soon"):
        server.start()
    assert server.pid is None
    assert not server.server_path.exists()
    assert _process_gone(int(pid_file.read_text()))


def _serve(home: Path) -> subprocess.Popen[bytes]:
    """`serve_forever` in its own process, as `docfilm serve` runs it."""
    code = "from delivery.seaweed import serve_forever; from delivery.settings import S3Settings; " \
        "serve_forever(S3Settings())"
    environment = {**os.environ, "DOCFILM_HOME": str(home)}
    return subprocess.Popen([sys.executable, "-c", code], env=environment, stderr=subprocess.PIPE)


def _wait_for_server_record(home: Path, serve: subprocess.Popen[bytes]) -> dict[str, object]:
    record_path = home / "s3" / "server.json"
    deadline = time.monotonic() + 30
    while not record_path.exists():
        assert serve.poll() is None, serve.stderr.read() if serve.stderr else b""
        assert time.monotonic() < deadline, "serve did not record its server within 30 s"
        time.sleep(0.1)
    return dict(json.loads(record_path.read_text()))


def test_serve_is_reused_by_others_and_stops_on_sigterm(tmp_path: Path) -> None:
    home = tmp_path / "served"
    serve = _serve(home)
    try:
        record = _wait_for_server_record(home, serve)
        with EmbeddedS3.attach_or_start(home) as attached:
            assert not attached.owned
            assert attached.pid == record["pid"]
            assert attached.endpoint_url is not None
            s3_client(attached.endpoint_url, attached.access_key, attached.secret_key).list_buckets()
        assert attached.is_running()
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=30) == 0
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
    assert _process_gone(record["pid"])
    assert not (home / "s3" / "server.json").exists()


def test_server_left_by_a_killed_serve_is_reused_then_stopped(tmp_path: Path) -> None:
    home = tmp_path / "orphan"
    serve = _serve(home)
    try:
        record = _wait_for_server_record(home, serve)
    finally:
        serve.kill()  # SIGKILL: serve gets no chance to stop its weed
        serve.wait()
    with EmbeddedS3.attach_or_start(home) as attached:
        assert attached.pid == record["pid"] and not attached.owned
    assert attached.is_running()  # leaving an attached context does not stop the server
    assert EmbeddedS3.stop_recorded(home)
    assert _process_gone(record["pid"])
    assert not (home / "s3" / "server.json").exists()
    assert not EmbeddedS3.stop_recorded(home)  # nothing left to stop
