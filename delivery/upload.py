"""Verified, idempotent uploads and presigned links.

An upload sends our SHA-256 with the object (`x-amz-checksum-sha256`), so the server itself refuses bytes
that do not match it; the object is then read back with HEAD and compared. An object already holding
the same SHA-256 and size is not sent again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
import unicodedata
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from delivery.client import client_error_code, translate_errors
from delivery.errors import ChecksumMismatch, DeliveryError
from delivery.multipart import SHA256_METADATA, composite_checksum, upload_multipart
from delivery.settings import MAX_PRESIGN_EXPIRY_DAYS, S3Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = [
    "MAX_PRESIGN_SECONDS",
    "UploadResult",
    "decode_metadata",
    "encode_metadata",
    "head_checksum",
    "object_sha256",
    "presign_get",
    "sha256_base64",
    "upload_verified",
]

log = logging.getLogger(__name__)

MAX_PRESIGN_SECONDS = MAX_PRESIGN_EXPIRY_DAYS * 86_400
_MIB = 1024 * 1024
# What the server answers when the bytes it received do not match the checksum we sent.
_DIGEST_ERRORS = frozenset({"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch"})
_METADATA_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
# Printable ASCII stays as it is, except `%` (so that values decode back) and space (HTTP trims it at the
# ends of a header value).
_METADATA_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "%")


@dataclass(frozen=True)
class UploadResult:
    """One object as the server holds it; `checksum` is its base64 SHA-256 (ChecksumSHA256)."""

    key: str
    bytes: int
    checksum: str
    etag: str
    skipped: bool
    version_id: str | None = None
    parts: int = 1
    parts_sent: int = 0


def sha256_base64(path: Path) -> str:
    """Base64 SHA-256 of a file, the form S3 reports as ChecksumSHA256."""
    with path.open("rb") as handle:
        return base64.b64encode(hashlib.file_digest(handle, "sha256").digest()).decode("ascii")


def _hex_to_base64(sha256_hex: str) -> str:
    try:
        raw = binascii.unhexlify(sha256_hex)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"sha256_hex {sha256_hex!r} is not hexadecimal") from exc
    if len(raw) != 32:
        raise ValueError(f"sha256_hex {sha256_hex!r} has {len(raw)} bytes, expected 32")
    return base64.b64encode(raw).decode("ascii")


def encode_metadata(metadata: dict[str, str]) -> dict[str, str]:
    """User metadata made safe for HTTP headers: NFC values, with non-ASCII, `%`, spaces and controls
    percent-encoded (decode_metadata reverses it)."""
    encoded: dict[str, str] = {}
    for name, value in metadata.items():
        lowered = name.lower()
        if not _METADATA_NAME.match(lowered):
            raise ValueError(f"metadata name {name!r} must be ASCII letters, digits and '-'")
        normalised = unicodedata.normalize("NFC", str(value))
        encoded[lowered] = urllib.parse.quote(normalised, safe=_METADATA_SAFE)
    return encoded


def decode_metadata(metadata: dict[str, str]) -> dict[str, str]:
    """The inverse of encode_metadata, for metadata read back from HEAD or GET."""
    return {name: urllib.parse.unquote(value) for name, value in metadata.items()}


def head_checksum(client: S3Client, bucket: str, key: str) -> dict[str, Any] | None:
    """HEAD with checksums enabled; None when the object does not exist."""
    with translate_errors(client.meta.endpoint_url, f"checking s3://{bucket}/{key}"):
        try:
            return dict(client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED"))
        except ClientError as exc:
            if client_error_code(exc) in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise


def object_sha256(head: dict[str, Any]) -> str | None:
    """The whole object's base64 SHA-256 from a HEAD answer: the docfilm-sha256 metadata of a multipart
    object (whose ChecksumSHA256 is a composite `...-N`), else its ChecksumSHA256."""
    stored = head.get("ChecksumSHA256")
    meta = head.get("Metadata", {}).get(SHA256_METADATA)
    if stored and "-" not in stored:
        return str(stored)
    return str(meta) if meta else None


def upload_verified(
    client: S3Client,
    bucket: str,
    key: str,
    path: Path,
    sha256_hex: str | None = None,
    metadata: dict[str, str] | None = None,
    content_type: str | None = None,
    *,
    multipart_threshold: int | None = None,
    part_size: int | None = None,
    state_dir: Path | None = None,
) -> UploadResult:
    """Upload `path` to `key` unless the object already has its SHA-256 and size; verify what the server holds.

    `sha256_hex` (e.g. from the ledger) spares a read of the file; if the file no longer has that hash the
    server rejects the upload and ChecksumMismatch is raised. Metadata values may be any Unicode text.
    Files of `multipart_threshold` bytes or more go in verified parts of `part_size` (see delivery.multipart),
    resumable through records under `state_dir`; unset, these come from S3Settings (16 MiB, 8 MiB,
    <DOCFILM_HOME>/s3/uploads).
    """
    path = Path(path)
    size = path.stat().st_size
    checksum = _hex_to_base64(sha256_hex) if sha256_hex else sha256_base64(path)
    target = f"s3://{bucket}/{key}"
    endpoint = client.meta.endpoint_url

    existing = head_checksum(client, bucket, key)
    if existing is not None and object_sha256(existing) == checksum and existing["ContentLength"] == size:
        log.debug("%s already holds %s (%d bytes); skipped", target, path, size)
        return UploadResult(
            key=key,
            bytes=size,
            checksum=checksum,
            etag=existing["ETag"],
            skipped=True,
            version_id=existing.get("VersionId"),
        )
    if multipart_threshold is None or part_size is None or state_dir is None:
        settings = S3Settings()
        multipart_threshold = multipart_threshold or settings.multipart_threshold_mib * _MIB
        part_size = part_size or settings.part_size_mib * _MIB
        state_dir = state_dir or settings.home / "s3" / "uploads"
    if size >= multipart_threshold:
        return _upload_parts(client, bucket, key, path, checksum, metadata, content_type, part_size, state_dir)

    extra: dict[str, Any] = {}
    if metadata:
        extra["Metadata"] = encode_metadata(metadata)
    if content_type:
        extra["ContentType"] = content_type
    with path.open("rb") as body, translate_errors(endpoint, f"uploading {path} to {target}"):
        try:
            response = client.put_object(
                Bucket=bucket,
                Key=key,
                Body=body,
                ContentLength=size,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=checksum,
                **extra,
            )
        except ClientError as exc:
            if client_error_code(exc) in _DIGEST_ERRORS:
                raise ChecksumMismatch(
                    f"{target} refused {path}: the bytes sent do not have SHA-256 {checksum} "
                    f"(the file changed since it was hashed?): {exc}"
                ) from exc
            raise
    reported = response.get("ChecksumSHA256")
    if reported is not None and reported != checksum:
        raise ChecksumMismatch(f"{target}: server stored SHA-256 {reported} for {path}, expected {checksum}")

    stored = head_checksum(client, bucket, key)
    if stored is None:
        raise DeliveryError(f"{target} is missing right after uploading {path}")
    if stored.get("ChecksumSHA256") != checksum or stored["ContentLength"] != size:
        raise ChecksumMismatch(
            f"{target} holds {stored['ContentLength']} bytes with SHA-256 {stored.get('ChecksumSHA256')}, "
            f"expected {size} bytes with {checksum} from {path}"
        )
    log.debug("uploaded %s to %s (%d bytes)", path, target, size)
    return UploadResult(
        key=key,
        bytes=size,
        checksum=checksum,
        etag=stored["ETag"],
        skipped=False,
        version_id=stored.get("VersionId"),
        parts_sent=1,
    )


def _upload_parts(
    client: S3Client,
    bucket: str,
    key: str,
    path: Path,
    checksum: str,
    metadata: dict[str, str] | None,
    content_type: str | None,
    part_size: int,
    state_dir: Path,
) -> UploadResult:
    """Multipart branch of upload_verified: the composite checksum and the SHA-256 metadata are both checked."""
    target = f"s3://{bucket}/{key}"
    _, parts, whole, sent = upload_multipart(
        client, bucket, key, path, part_size, state_dir, encode_metadata(metadata or {}), content_type
    )
    if whole != checksum:
        raise ChecksumMismatch(f"{path} now has SHA-256 {whole}, expected {checksum}: it changed since it was hashed")
    stored = head_checksum(client, bucket, key)
    if stored is None:
        raise DeliveryError(f"{target} is missing right after uploading {path}")
    composite = composite_checksum(parts)
    size = path.stat().st_size
    if (
        stored.get("ChecksumSHA256") != composite
        or object_sha256(stored) != checksum
        or stored["ContentLength"] != size
    ):
        raise ChecksumMismatch(
            f"{target} holds {stored['ContentLength']} bytes with checksum {stored.get('ChecksumSHA256')} and "
            f"{SHA256_METADATA} {stored.get('Metadata', {}).get(SHA256_METADATA)}, expected {size} bytes, "
            f"composite {composite} and SHA-256 {checksum} from {path}"
        )
    return UploadResult(
        key=key,
        bytes=size,
        checksum=checksum,
        etag=stored["ETag"],
        skipped=False,
        version_id=stored.get("VersionId"),
        parts=len(parts),
        parts_sent=sent,
    )


def presign_get(client: S3Client, bucket: str, key: str, expires_s: int) -> str:
    """A presigned GET URL valid for `expires_s` seconds (SigV4 allows at most 7 days).

    Links signed with temporary credentials (STS, SSO) stop working when those credentials expire.
    """
    if not 1 <= expires_s <= MAX_PRESIGN_SECONDS:
        raise ValueError(f"presigned link lifetime {expires_s} s is outside 1..{MAX_PRESIGN_SECONDS} (7 days)")
    return client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_s)
