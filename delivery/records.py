"""Records delivery hands to its callers: what the server holds, what an upload did, what verify found."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["SHA256_METADATA", "ObjectRecord", "ObjectsReport", "StoredObject", "UploadResult"]

# User metadata name (x-amz-meta-docfilm-sha256) holding the whole file's base64 SHA-256.
SHA256_METADATA = "docfilm-sha256"


@dataclass(frozen=True)
class StoredObject:
    """One object as a HEAD with checksums reports it.

    `checksum` is the server's ChecksumSHA256: the file's base64 SHA-256 for a single PUT, a composite
    `<base64>-N` for a multipart object, None when the server keeps none. `metadata` is as sent (encoded).
    """

    key: str
    bytes: int
    etag: str
    checksum: str | None
    metadata: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    version_id: str | None = None

    @property
    def sha256(self) -> str | None:
        """The whole object's base64 SHA-256: the docfilm-sha256 metadata of a multipart object (whose
        checksum is a composite), else its checksum."""
        if self.checksum and "-" not in self.checksum:
            return self.checksum
        return self.metadata.get(SHA256_METADATA) or None


@dataclass(frozen=True)
class UploadResult:
    """One object as the server holds it after upload_verified; `checksum` is its base64 SHA-256."""

    key: str
    bytes: int
    checksum: str
    etag: str
    skipped: bool
    version_id: str | None = None
    parts: int = 1
    parts_sent: int = 0

    def to_json(self) -> dict[str, object]:
        """One entry of `docfilm upload --json`'s `uploaded` list: DESIGN.md's {"key", "bytes", "checksum"}."""
        return {"key": self.key, "bytes": self.bytes, "checksum": self.checksum}


@dataclass(frozen=True)
class ObjectRecord:
    """What the ledger says an object holds: key, size and SHA-256 (hex, as the ledger stores it)."""

    bucket: str
    key: str
    sha256: str
    bytes: int


@dataclass(frozen=True)
class ObjectsReport:
    """What verify found: objects checked, `s3://` URLs whose bytes differ and URLs that are gone.

    `other_buckets` counts ledger rows of another bucket than the configured one, which were not checked.
    """

    checked: int
    mismatched: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    other_buckets: int = 0

    def to_json(self) -> dict[str, object]:
        """`docfilm verify --json`'s `objects`: {"checked", "mismatched", "missing", "other_buckets"}."""
        return {"checked": self.checked, "mismatched": list(self.mismatched), "missing": list(self.missing),
                "other_buckets": self.other_buckets}
