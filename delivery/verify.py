"""Check uploaded objects against what the ledger recorded (for `docfilm verify`)."""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from delivery.settings import S3Settings
from delivery.upload import head_checksum, object_sha256

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["ObjectRecord", "ObjectsReport", "verify_ledger_uploads", "verify_objects"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ObjectRecord:
    """What the ledger says an object holds: key, size and SHA-256 (hex, as the ledger stores it)."""

    bucket: str
    key: str
    sha256: str
    bytes: int


@dataclass
class ObjectsReport:
    """Result of verify_objects, in the `{"checked", "mismatched", "missing"}` shape of `docfilm verify`."""

    checked: int
    mismatched: list[str]
    missing: list[str]

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"checked": self.checked, "mismatched": self.mismatched, "missing": self.missing}


def _hex_to_b64(sha256: str) -> str:
    try:
        return base64.b64encode(binascii.unhexlify(sha256)).decode("ascii")
    except (binascii.Error, ValueError):
        # Already base64 (the ledger's `checksum` column).
        return sha256


def verify_objects(client: S3Client, records: Iterable[ObjectRecord]) -> ObjectsReport:
    """HEAD every recorded object with ChecksumMode=ENABLED and compare its SHA-256 and size with the ledger.

    Multipart objects are compared through their docfilm-sha256 metadata (their ChecksumSHA256 is a
    composite); an object with neither counts as mismatched.
    """
    report = ObjectsReport(checked=0, mismatched=[], missing=[])
    for record in records:
        report.checked += 1
        url = f"s3://{record.bucket}/{record.key}"
        head = head_checksum(client, record.bucket, record.key)
        if head is None:
            report.missing.append(url)
            continue
        if object_sha256(head) != _hex_to_b64(record.sha256) or head["ContentLength"] != record.bytes:
            log.warning(
                "%s holds %s (%d bytes), ledger says %s", url, object_sha256(head), head["ContentLength"], record.sha256
            )
            report.mismatched.append(url)
    return report


def verify_ledger_uploads(rows: Iterable[Any], settings: S3Settings | None = None) -> dict[str, object]:
    """verify_objects for the ledger's Upload rows (anything with bucket, key, sha256, bytes) in the configured
    store's bucket; rows of other buckets are counted as `other_buckets`, not checked.

    Rows are matched by bucket, not endpoint: the embedded S3 may come back on another port.
    """
    from delivery.client import open_store

    settings = settings or S3Settings()
    rows = list(rows)
    mine = [ObjectRecord(r.bucket, r.key, r.sha256, r.bytes) for r in rows if r.bucket == settings.bucket]
    if not mine:
        return {"checked": 0, "mismatched": [], "missing": [], "other_buckets": len(rows)}
    with open_store(settings) as (client, _bucket):
        report = verify_objects(client, mine)
    return {**report.as_dict(), "other_buckets": len(rows) - len(mine)}
