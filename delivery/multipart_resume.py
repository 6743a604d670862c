"""The resume record of a multipart upload (delivery.multipart): what the server accepted, kept across runs.

A small record per (bucket, key) under the uploads folder names the UploadId, the file's SHA-256 and part size,
and each part the server accepted with its checksum (so verified it): its first line is written whole when the
upload starts or resumes, then one line is appended per accepted part (a line torn by a kill is ignored, and
that part sent again).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from delivery.client import client_error_code, translate_errors

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["Accepted", "HeldPart", "ResumeRecord", "abort_upload", "already_verified", "held_parts",
           "resume_record_path"]

_GONE = {"NoSuchUpload", "404"}  # the server no longer knows the upload


@dataclass(frozen=True)
class HeldPart:
    """A part the server lists for an unfinished upload; `checksum` is None where the server lists none."""

    size: int
    etag: str
    checksum: str | None


@dataclass(frozen=True)
class Accepted:
    """A part the server accepted with our checksum, as the resume record keeps it."""

    etag: str
    checksum: str


@dataclass
class ResumeRecord:
    """The resume file's content: its first line, then one appended line per part accepted since."""

    upload_id: str
    checksum: str
    part_size: int
    key: str
    parts: dict[str, Accepted] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> ResumeRecord | None:
        """The record at `path`, or None when it is missing or unreadable (the upload then starts afresh).

        Appended part lines are read up to the first that does not parse (torn by a kill mid-write)."""
        try:
            first, *appended = path.read_text(encoding="utf-8").splitlines()
            data = json.loads(first)
            parts = {str(n): Accepted(str(p["etag"]), str(p["checksum"])) for n, p in dict(data["parts"]).items()}
            record = cls(str(data["upload_id"]), str(data["checksum"]), int(data["part_size"]), str(data["key"]), parts)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
        for line in appended:
            try:
                part = json.loads(line)
                record.parts[str(int(part["part"]))] = Accepted(str(part["etag"]), str(part["checksum"]))
            except (ValueError, KeyError, TypeError):
                break
        return record

    def save(self, path: Path) -> None:
        # Written whole then renamed, so a kill mid-write leaves the previous record.
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps(asdict(self)) + "\n", encoding="utf-8")
        partial.replace(path)

    def accept(self, journal: int, number: int, accepted: Accepted) -> None:
        """Add an accepted part, appending its line to the record open as `journal` (O_APPEND): one short
        write per part instead of rewriting and renaming the whole record."""
        self.parts[str(number)] = accepted
        line = json.dumps({"part": number, "etag": accepted.etag, "checksum": accepted.checksum}) + "\n"
        os.write(journal, line.encode("utf-8"))


def resume_record_path(state_dir: Path, bucket: str, key: str) -> Path:
    # Not keyed by endpoint: the embedded S3 may come back on another port; a record whose upload the
    # endpoint does not know (NoSuchUpload) just starts a new upload.
    name = hashlib.sha256(f"{bucket}\n{key}".encode()).hexdigest()[:32]
    return state_dir / f"{name}.json"


def held_parts(client: S3Client, bucket: str, key: str, upload_id: str) -> dict[int, HeldPart] | None:
    """Parts the server holds for `upload_id` by number; None when the upload no longer exists."""
    parts: dict[int, HeldPart] = {}
    marker = 0
    while True:
        try:
            response = client.list_parts(Bucket=bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker)
        except ClientError as exc:
            if client_error_code(exc) in _GONE:
                return None
            raise
        for part in response.get("Parts", []):
            parts[int(part["PartNumber"])] = HeldPart(int(part["Size"]), str(part["ETag"]), part.get("ChecksumSHA256"))
        if not response.get("IsTruncated"):
            return parts
        marker = int(response["NextPartNumberMarker"])


def already_verified(size: int, checksum: str, held: HeldPart | None, accepted: Accepted | None) -> bool:
    """True when the server holds a part of `size` bytes with our bytes (base64 SHA-256 `checksum`): its listed
    checksum, or our record of its ETag, says so."""
    if held is None or held.size != size:
        return False
    if held.checksum == checksum:
        return True
    return accepted is not None and accepted.checksum == checksum and accepted.etag == held.etag


def abort_upload(client: S3Client, bucket: str, key: str, upload_id: str, record: Path | None = None) -> None:
    """Abort an unfinished upload (one the server no longer knows is fine) and remove its record, if given."""
    with translate_errors(client.meta.endpoint_url, f"aborting s3://{bucket}/{key}"):
        try:
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        except ClientError as exc:
            if client_error_code(exc) not in _GONE:
                raise
    if record is not None:
        record.unlink(missing_ok=True)
