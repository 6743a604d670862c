"""S3 clients: a boto3 factory, error translation, and `open_store` (embedded SeaweedFS or a configured endpoint)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    CredentialRetrievalError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from delivery.errors import (
    ChecksumMismatch,
    DeliveryError,
    EmbeddedS3Failed,
    S3CredentialsError,
    S3Unreachable,
    UnsafeKey,
)
from delivery.settings import S3Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = [
    "ChecksumMismatch",
    "DeliveryError",
    "EmbeddedS3Failed",
    "S3CredentialsError",
    "S3Unreachable",
    "UnsafeKey",
    "client_error_code",
    "ensure_bucket",
    "open_store",
    "s3_client",
    "translate_errors",
]

log = logging.getLogger(__name__)

_CREDENTIAL_CODES = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "TokenRefreshRequired"}
)


def s3_client(
    endpoint_url: str | None,
    access_key: str | None,
    secret_key: str | None,
    region: str = "us-east-1",
    *,
    connect_timeout: float = 5,
    read_timeout: float = 120,
    max_attempts: int = 5,
) -> S3Client:
    """Build a boto3 S3 client; with no keys given, credentials come from the AWS chain.

    SigV4 is forced: with a custom endpoint boto3 would otherwise presign links that break as soon as the
    browser adds a Content-Type. Path-style addressing works with SeaweedFS, MinIO and AWS alike, with no
    per-bucket DNS.
    """
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        retries={"mode": "standard", "max_attempts": max_attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
    )
    # A session per client: boto3's default session is not safe to share between threads.
    session = boto3.session.Session()
    return session.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=region,
        config=config,
    )


def client_error_code(error: ClientError) -> str:
    """The S3 error code of a ClientError ("NoSuchKey", "BadDigest", "404", ...)."""
    return str(error.response.get("Error", {}).get("Code", ""))


@contextmanager
def translate_errors(endpoint: str, action: str) -> Iterator[None]:
    """Turn botocore's connection and credential failures into S3Unreachable / S3CredentialsError."""
    try:
        yield
    except (BotoConnectionError, ConnectionClosedError, ReadTimeoutError) as exc:
        raise S3Unreachable(f"S3 endpoint {endpoint} unreachable while {action}: {exc}") from exc
    except (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError) as exc:
        raise S3CredentialsError(
            f"no usable credentials for S3 endpoint {endpoint} while {action}: {exc}; set AWS_ACCESS_KEY_ID "
            "and AWS_SECRET_ACCESS_KEY or AWS_PROFILE"
        ) from exc
    except ClientError as exc:
        if client_error_code(exc) in _CREDENTIAL_CODES:
            raise S3CredentialsError(f"S3 endpoint {endpoint} rejected our credentials while {action}: {exc}") from exc
        raise


def ensure_bucket(client: S3Client, bucket: str, region: str) -> bool:
    """Create `bucket` when it does not exist; True when it was created."""
    endpoint = client.meta.endpoint_url
    with translate_errors(endpoint, f"checking bucket {bucket}"):
        try:
            client.head_bucket(Bucket=bucket)
            return False
        except ClientError as exc:
            code = client_error_code(exc)
            if code in {"403", "AccessDenied", "Forbidden"}:
                # HEAD answers carry no error body: a wrong secret and a missing permission look alike.
                raise S3CredentialsError(
                    f"S3 endpoint {endpoint} refused access to bucket {bucket} (403): wrong credentials, no "
                    "s3:ListBucket permission, or a bucket of another account"
                ) from exc
            if code not in {"404", "NoSuchBucket", "NotFound"}:
                raise
    log.info("creating bucket %s at %s", bucket, endpoint)
    with translate_errors(endpoint, f"creating bucket {bucket}"):
        try:
            if region == "us-east-1":
                client.create_bucket(Bucket=bucket)
            else:
                client.create_bucket(
                    Bucket=bucket,
                    CreateBucketConfiguration={"LocationConstraint": region},  # type: ignore[typeddict-item]
                )
        except ClientError as exc:
            # Another process created it between our HEAD and CREATE.
            if client_error_code(exc) != "BucketAlreadyOwnedByYou":
                raise
            return False
    return True


@contextmanager
def open_store(settings: S3Settings | None = None) -> Iterator[tuple[S3Client, str]]:
    """Yield (client, bucket) ready for uploads; the bucket is created when absent.

    With no endpoint configured the embedded SeaweedFS under <home>/s3 is used: a live one (e.g. started
    by `docfilm serve`) is reused, otherwise one is started for the duration of the block. With an
    endpoint, credentials come from the AWS credential chain.
    """
    settings = settings or S3Settings()
    if settings.endpoint_url is None:
        # Imported here: seaweed builds its readiness probe with s3_client from this module.
        from delivery.seaweed import EmbeddedS3

        with EmbeddedS3.attach_or_start(settings.home, weed_binary=settings.weed_binary) as server:
            client = s3_client(server.endpoint_url, server.access_key, server.secret_key, settings.region)
            try:
                ensure_bucket(client, settings.bucket, settings.region)
                yield client, settings.bucket
            finally:
                client.close()
        return

    client = s3_client(settings.endpoint_url, None, None, settings.region)
    try:
        # Missing credentials surface here as NoCredentialsError, translated to S3CredentialsError.
        ensure_bucket(client, settings.bucket, settings.region)
        yield client, settings.bucket
    finally:
        client.close()
