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
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from core.part_hashes import PartHashes
from core.vocabulary import DIGEST_S3_CODES
from core.vocabulary import content_type as content_type_of
from delivery.client import client_error_code, translate_errors
from delivery.errors import ChecksumMismatch, DeliveryError
from delivery.multipart import composite_checksum, upload_multipart
from delivery.records import SHA256_METADATA, StoredObject, UploadResult
from delivery.settings import MAX_PRESIGN_EXPIRY_DAYS, S3Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = [
    "MAX_PRESIGN_SECONDS",
    "UploadResult",
    "decode_metadata",
    "encode_metadata",
    "head_checksum",
    "presign_get",
    "sha256_base64",
    "upload_verified",
]

log = logging.getLogger(__name__)

MAX_PRESIGN_SECONDS = MAX_PRESIGN_EXPIRY_DAYS * 86_400
_MIB = 1024 * 1024
_METADATA_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
# Printable ASCII stays as it is, except `%` (so that values decode back) and space (HTTP trims it at the
# ends of a header value).
_METADATA_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "%")


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


def head_checksum(client: S3Client, bucket: str, key: str) -> StoredObject | None:
    """HEAD with checksums enabled; None when the object does not exist."""
    with translate_errors(client.meta.endpoint_url, f"checking s3://{bucket}/{key}"):
        try:
            head = client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        except ClientError as exc:
            if client_error_code(exc) in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
    return StoredObject(
        key=key,
        bytes=int(head["ContentLength"]),
        etag=str(head["ETag"]),
        checksum=head.get("ChecksumSHA256"),
        metadata=dict(head.get("Metadata", {})),
        content_type=head.get("ContentType"),
        version_id=head.get("VersionId"),
    )


def upload_verified(
    client: S3Client,
    bucket: str,
    key: str,
    path: Path,
    settings: S3Settings,
    *,
    sha256_hex: str | None = None,
    metadata: dict[str, str] | None = None,
    content_type: str | None = None,
    part_hashes: PartHashes | None = None,
) -> UploadResult:
    """Upload `path` to `key` unless the object already has its SHA-256 and size; verify what the server holds.

    `sha256_hex` (e.g. from the ledger) spares a read of the file; if the file no longer has that hash the
    server rejects the upload and ChecksumMismatch is raised. Metadata values may be any Unicode text; the
    content type defaults to the one core.vocabulary gives the file's suffix. Files of
    `settings.multipart_threshold_mib` or more go in verified parts of `settings.part_size_mib` (see
    delivery.multipart), resumable through records under `settings.uploads_dir`; with `part_hashes` (recorded
    with `sha256_hex` in the read that hashed the file) in their part size, each part sent with its recorded
    SHA-256 for the server to check, and the file is not hashed here at all.
    """
    path = Path(path)
    size = path.stat().st_size
    checksum = _hex_to_base64(sha256_hex) if sha256_hex else sha256_base64(path)
    target = f"s3://{bucket}/{key}"
    endpoint = client.meta.endpoint_url
    kind = content_type or content_type_of(path.suffix)

    existing = head_checksum(client, bucket, key)
    if existing is not None and existing.sha256 == checksum and existing.bytes == size:
        log.debug("%s already holds %s (%d bytes); skipped", target, path, size)
        return UploadResult(
            key=key, bytes=size, checksum=checksum, etag=existing.etag, skipped=True, version_id=existing.version_id
        )
    if size >= settings.multipart_threshold_mib * _MIB:
        return _upload_parts(client, bucket, key, path, checksum, metadata, kind, settings, part_hashes)

    with path.open("rb") as body, translate_errors(endpoint, f"uploading {path} to {target}"):
        try:
            response = client.put_object(
                Bucket=bucket,
                Key=key,
                Body=body,
                ContentLength=size,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=checksum,
                Metadata=encode_metadata(metadata or {}),
                ContentType=kind,
            )
        except ClientError as exc:
            if client_error_code(exc) in DIGEST_S3_CODES:
                raise ChecksumMismatch(
                    f"{target} refused {path}: the bytes sent do not have SHA-256 {checksum} "
                    f"(the file changed since it was hashed?) ({client_error_code(exc)})"
                ) from exc
            raise
    reported = response.get("ChecksumSHA256")
    if reported is not None and reported != checksum:
        raise ChecksumMismatch(f"{target}: server stored SHA-256 {reported} for {path}, expected {checksum}")

    stored = head_checksum(client, bucket, key)
    if stored is None:
        raise DeliveryError(f"{target} is missing right after uploading {path}")
    if stored.checksum != checksum or stored.bytes != size:
        raise ChecksumMismatch(
            f"{target} holds {stored.bytes} bytes with SHA-256 {stored.checksum}, "
            f"expected {size} bytes with {checksum} from {path}"
        )
    log.debug("uploaded %s to %s (%d bytes)", path, target, size)
    return UploadResult(
        key=key, bytes=size, checksum=checksum, etag=stored.etag, skipped=False, version_id=stored.version_id,
        parts_sent=1,
    )


def _upload_parts(
    client: S3Client,
    bucket: str,
    key: str,
    path: Path,
    checksum: str,
    metadata: dict[str, str] | None,
    content_type: str,
    settings: S3Settings,
    part_hashes: PartHashes | None = None,
) -> UploadResult:
    """Multipart branch of upload_verified: the composite checksum and the SHA-256 metadata are both checked."""
    target = f"s3://{bucket}/{key}"
    done = upload_multipart(
        client,
        bucket,
        key,
        path,
        settings.part_size_mib * _MIB,
        settings.uploads_dir,
        encode_metadata(metadata or {}),
        content_type,
        threads=settings.upload_threads,
        checksum=checksum,
        parts=part_hashes,
    )
    if done.checksum != checksum:
        raise ChecksumMismatch(
            f"{path} now has SHA-256 {done.checksum}, expected {checksum}: it changed since it was hashed"
        )
    stored = head_checksum(client, bucket, key)
    if stored is None:
        raise DeliveryError(f"{target} is missing right after uploading {path}")
    composite = composite_checksum(done.parts)
    size = path.stat().st_size
    if stored.checksum != composite or stored.sha256 != checksum or stored.bytes != size:
        raise ChecksumMismatch(
            f"{target} holds {stored.bytes} bytes with checksum {stored.checksum} and "
            f"{SHA256_METADATA} {stored.metadata.get(SHA256_METADATA)}, expected {size} bytes, "
            f"composite {composite} and SHA-256 {checksum} from {path}"
        )
    return UploadResult(
        key=key,
        bytes=size,
        checksum=checksum,
        etag=stored.etag,
        skipped=False,
        version_id=stored.version_id,
        parts=len(done.parts),
        parts_sent=done.parts_sent,
    )


def presign_get(client: S3Client, bucket: str, key: str, expires_s: int) -> str:
    """A presigned GET URL valid for `expires_s` seconds (SigV4 allows at most 7 days).

    Links signed with temporary credentials (STS, SSO) stop working when those credentials expire.
    """
    if not 1 <= expires_s <= MAX_PRESIGN_SECONDS:
        raise ValueError(f"presigned link lifetime {expires_s} s is outside 1..{MAX_PRESIGN_SECONDS} (7 days)")
    return client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_s)
