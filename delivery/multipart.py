"""Multipart uploads whose every part the server verifies (SHA-256), with resume and transient retries.

Each part carries its own ChecksumSHA256, so the server refuses a corrupted part (BadDigest); the
object then holds a COMPOSITE checksum (`<base64>-N`), which is not the file's SHA-256, so the whole
file's SHA-256 is also stored as metadata `docfilm-sha256` (base64) for skip and verify.

Resume: a small record per (bucket, key) under `state_dir` (<home>/s3/uploads/<hash>.json) names the UploadId,
the file's SHA-256 and each part the server accepted with its checksum (so verified it). On a re-run a part is
not sent again when list_parts shows it with the same size and ETag and either its ChecksumSHA256 matches ours
or, as SeaweedFS lists no part checksums, the record says it was accepted with that checksum. A record for
another SHA-256 (the file changed) has its upload aborted.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError
from botocore.exceptions import ConnectionError as BotoConnectionError

from delivery.client import client_error_code, translate_errors
from delivery.errors import ChecksumMismatch

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = [
    "SHA256_METADATA",
    "PartPlan",
    "is_transient",
    "composite_checksum",
    "part_plan",
    "upload_multipart",
    "with_retries",
]

log = logging.getLogger(__name__)

# User metadata name (x-amz-meta-docfilm-sha256) holding the whole file's base64 SHA-256.
SHA256_METADATA = "docfilm-sha256"
_DIGEST_ERRORS = frozenset({"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch"})
_TRANSIENT_CODES = frozenset(
    {"SlowDown", "RequestTimeout", "RequestTimeTooSkewed", "InternalError", "ServiceUnavailable", "503", "500"}
)
T = TypeVar("T")


@dataclass(frozen=True)
class PartPlan:
    """One part of a file: 1-based number, byte offset, size and base64 SHA-256."""

    number: int
    offset: int
    size: int
    checksum: str


def is_transient(exc: BaseException) -> bool:
    """True for failures worth retrying: lost connections, timeouts, 5xx and SlowDown; never a bad digest."""
    if isinstance(exc, (BotoConnectionError, ConnectionClosedError, ReadTimeoutError, ConnectionError)):
        return True
    if isinstance(exc, ClientError):
        code = client_error_code(exc)
        if code in _DIGEST_ERRORS:
            return False
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return code in _TRANSIENT_CODES or status >= 500
    return False


def with_retries(action: Callable[[], T], what: str, attempts: int = 4, base_delay: float = 0.5) -> T:
    """Run `action`, retrying transient failures with exponential backoff (0.5, 1, 2 s ...)."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception as exc:
            if attempt == attempts or not is_transient(exc):
                raise
            delay = base_delay * 2 ** (attempt - 1)
            log.warning("%s failed (%s); retry %d/%d in %.1f s", what, exc, attempt, attempts - 1, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


def part_plan(path: Path, part_size: int) -> tuple[list[PartPlan], str]:
    """Split `path` into parts of `part_size` bytes; return them and the whole file's base64 SHA-256."""
    whole = hashlib.sha256()
    parts: list[PartPlan] = []
    offset = 0
    with path.open("rb") as handle:
        while chunk := handle.read(part_size):
            whole.update(chunk)
            digest = base64.b64encode(hashlib.sha256(chunk).digest()).decode("ascii")
            parts.append(PartPlan(len(parts) + 1, offset, len(chunk), digest))
            offset += len(chunk)
    if not parts:
        raise ValueError(f"{path} is empty: multipart needs at least one byte")
    return parts, base64.b64encode(whole.digest()).decode("ascii")


def _record_path(state_dir: Path, bucket: str, key: str) -> Path:
    # Not keyed by endpoint: the embedded S3 may come back on another port; a record whose upload the
    # endpoint does not know (NoSuchUpload) just starts a new upload.
    name = hashlib.sha256(f"{bucket}\n{key}".encode()).hexdigest()[:32]
    return state_dir / f"{name}.json"


def _load_record(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _save_record(path: Path, record: dict[str, Any]) -> None:
    # Written whole then renamed, so a kill mid-write leaves the previous record.
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(record), encoding="utf-8")
    partial.replace(path)


def _verified_parts(client: S3Client, bucket: str, key: str, upload_id: str) -> dict[int, dict[str, Any]] | None:
    """Parts the server holds for `upload_id` by number; None when the upload no longer exists."""
    parts: dict[int, dict[str, Any]] = {}
    marker = 0
    while True:
        try:
            response = client.list_parts(Bucket=bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker)
        except ClientError as exc:
            if client_error_code(exc) in {"NoSuchUpload", "404"}:
                return None
            raise
        for part in response.get("Parts", []):
            parts[int(part["PartNumber"])] = dict(part)
        if not response.get("IsTruncated"):
            return parts
        marker = int(response["NextPartNumberMarker"])


def composite_checksum(parts: list[PartPlan]) -> str:
    """The COMPOSITE SHA-256 S3 reports for a multipart object: sha256 of the parts' digests, then `-N`."""
    joined = b"".join(base64.b64decode(part.checksum) for part in parts)
    return f"{base64.b64encode(hashlib.sha256(joined).digest()).decode('ascii')}-{len(parts)}"


def upload_multipart(
    client: S3Client,
    bucket: str,
    key: str,
    path: Path,
    part_size: int,
    state_dir: Path,
    metadata: dict[str, str] | None = None,
    content_type: str | None = None,
) -> tuple[dict[str, Any], list[PartPlan], str, int]:
    """Upload `path` in verified parts, resuming a recorded unfinished upload of the same bytes.

    `metadata` must already be header-safe (encode_metadata). Returns the CompleteMultipartUpload response,
    the parts, the whole file's base64 SHA-256 and how many parts were sent now.
    """
    endpoint = client.meta.endpoint_url
    target = f"s3://{bucket}/{key}"
    parts, checksum = part_plan(path, part_size)
    state_dir.mkdir(parents=True, exist_ok=True)
    record_path = _record_path(state_dir, bucket, key)
    record = _load_record(record_path)

    held: dict[int, dict[str, Any]] = {}
    accepted: dict[str, dict[str, str]] = {}
    upload_id: str | None = None
    with translate_errors(endpoint, f"resuming {path} to {target}"):
        if record is not None:
            if record.get("checksum") == checksum and record.get("part_size") == part_size:
                recorded_id = str(record["upload_id"])
                found = with_retries(
                    lambda: _verified_parts(client, bucket, key, recorded_id), f"listing parts of {target}"
                )
                if found is not None:
                    upload_id, held = recorded_id, found
                    accepted = dict(record.get("parts") or {})
            else:
                log.info("%s changed since upload %s began; aborting it", path, record.get("upload_id"))
                try:
                    client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=str(record.get("upload_id")))
                except ClientError as exc:
                    if client_error_code(exc) not in {"NoSuchUpload", "404"}:
                        raise
        if upload_id is None:
            extra: dict[str, Any] = {"Metadata": {**(metadata or {}), SHA256_METADATA: checksum}}
            if content_type:
                extra["ContentType"] = content_type
            created = with_retries(
                lambda: client.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256", **extra),
                f"starting multipart upload of {target}",
            )
            upload_id = created["UploadId"]
    record = {"upload_id": upload_id, "checksum": checksum, "part_size": part_size, "key": key, "parts": accepted}
    _save_record(record_path, record)

    sent = 0
    completed: list[dict[str, Any]] = []
    with path.open("rb") as handle:
        for part in parts:
            have = held.get(part.number)
            mark = accepted.get(str(part.number), {})
            if (
                have is not None
                and have.get("Size") == part.size
                and (
                    have.get("ChecksumSHA256") == part.checksum
                    or (mark.get("checksum") == part.checksum and mark.get("etag") == have.get("ETag"))
                )
            ):
                completed.append({"PartNumber": part.number, "ETag": have["ETag"], "ChecksumSHA256": part.checksum})
                continue
            handle.seek(part.offset)
            body = handle.read(part.size)
            response = _send_part(client, bucket, key, upload_id, part, body, f"part {part.number} of {target}")
            sent += 1
            accepted[str(part.number)] = {"etag": response["ETag"], "checksum": part.checksum}
            _save_record(record_path, record)
            completed.append({"PartNumber": part.number, "ETag": response["ETag"], "ChecksumSHA256": part.checksum})

    with translate_errors(endpoint, f"completing {target}"):
        result = with_retries(
            lambda: client.complete_multipart_upload(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": completed},  # type: ignore[typeddict-item]
            ),
            f"completing {target}",
        )
    record_path.unlink(missing_ok=True)
    log.debug("uploaded %s to %s in %d parts (%d sent now)", path, target, len(parts), sent)
    return dict(result), parts, checksum, sent


def _send_part(
    client: S3Client, bucket: str, key: str, upload_id: str, part: PartPlan, body: bytes, what: str
) -> dict[str, Any]:
    endpoint = client.meta.endpoint_url
    with translate_errors(endpoint, f"uploading {what}"):
        try:
            return dict(
                with_retries(
                    lambda: client.upload_part(
                        Bucket=bucket,
                        Key=key,
                        UploadId=upload_id,
                        PartNumber=part.number,
                        Body=body,
                        ContentLength=part.size,
                        ChecksumAlgorithm="SHA256",
                        ChecksumSHA256=part.checksum,
                    ),
                    what,
                )
            )
        except ClientError as exc:
            if client_error_code(exc) in _DIGEST_ERRORS:
                raise ChecksumMismatch(
                    f"{what} refused: the bytes sent do not have SHA-256 {part.checksum} "
                    f"(the file changed while uploading?): {exc}"
                ) from exc
            raise
