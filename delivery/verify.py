"""Check uploaded objects against what the ledger recorded (for `docfilm verify`)."""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from delivery.records import ObjectRecord, ObjectsReport
from delivery.settings import S3Settings
from delivery.store import open_store
from delivery.upload import head_checksum

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["ObjectRecord", "ObjectsReport", "UploadRow", "verify_ledger_uploads", "verify_objects"]

log = logging.getLogger(__name__)


class UploadRow(Protocol):
    """What verify needs of a ledger Upload row."""

    @property
    def bucket(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def sha256(self) -> str: ...
    @property
    def bytes(self) -> int: ...


def _hex_to_b64(sha256: str) -> str:
    try:
        return base64.b64encode(binascii.unhexlify(sha256)).decode("ascii")
    except (binascii.Error, ValueError):
        # Already base64 (the ledger's `checksum` column).
        return sha256


def verify_objects(client: S3Client, records: Iterable[ObjectRecord]) -> ObjectsReport:
    """HEAD every recorded object with ChecksumMode=ENABLED and compare its SHA-256 and size with the ledger.

    Multipart objects are compared through their docfilm-sha256 metadata (their ChecksumSHA256 is a
    composite); an object with neither counts as mismatched. Every object is checked before the report.
    """
    checked = 0
    mismatched: list[str] = []
    missing: list[str] = []
    for record in records:
        checked += 1
        url = f"s3://{record.bucket}/{record.key}"
        stored = head_checksum(client, record.bucket, record.key)
        if stored is None:
            missing.append(url)
            continue
        if stored.sha256 != _hex_to_b64(record.sha256) or stored.bytes != record.bytes:
            log.warning("%s holds %s (%d bytes), ledger says %s", url, stored.sha256, stored.bytes, record.sha256)
            mismatched.append(url)
    return ObjectsReport(checked, tuple(mismatched), tuple(missing))


def verify_ledger_uploads(rows: Iterable[UploadRow], settings: S3Settings) -> ObjectsReport:
    """verify_objects for the ledger's Upload rows in the configured store's bucket; rows of other buckets
    are counted as `other_buckets`, not checked.

    Rows are matched by bucket, not endpoint: the embedded S3 may come back on another port.
    """
    rows = list(rows)
    mine = [ObjectRecord(r.bucket, r.key, r.sha256, r.bytes) for r in rows if r.bucket == settings.bucket]
    if not mine:
        return ObjectsReport(checked=0, other_buckets=len(rows))
    with open_store(settings) as (client, _bucket):
        report = verify_objects(client, mine)
    return ObjectsReport(report.checked, report.mismatched, report.missing, other_buckets=len(rows) - len(mine))
