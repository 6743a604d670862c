"""S3 clients: a boto3 factory, the translation of botocore's failures into delivery's errors, and buckets."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import boto3
from botocore.awsrequest import AWSRequest
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

from core.errors import endpoint_of
from delivery.errors import S3CredentialsError, S3Unreachable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["client_error_code", "ensure_bucket", "failure_reason", "s3_client", "translate_errors"]

log = logging.getLogger(__name__)

CHECKSUM_SHA256_HEADER = "x-amz-checksum-sha256"

_CREDENTIAL_CODES = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "TokenRefreshRequired"}
)
_CREDENTIALS_TO_CHECK = (
    "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) for DOCFILM_S3_ENDPOINT_URL; the "
    "embedded store's own keys are in DOCFILM_HOME/s3/credentials.json"
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
    client = session.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=region,
        config=config,
    )
    unsigned = config.merge(Config(s3={**(getattr(config, "s3", None) or {}), "payload_signing_enabled": False}))

    def body_checked_by_its_checksum(request: AWSRequest, **_: object) -> None:
        """A body sent with its SHA-256 in x-amz-checksum-sha256 is signed through that header.

        The header is signed and the server refuses a body that does not have it (BadDigest), so hashing the
        body once more for the signature (what botocore does on plain http; on https with a checksum it does
        not) proves nothing more and costs a SHA-256 pass over every byte uploaded.
        """
        if any(name.lower() == CHECKSUM_SHA256_HEADER for name in request.headers):
            request.context["client_config"] = unsigned

    for operation in ("PutObject", "UploadPart"):
        client.meta.events.register(f"before-sign.s3.{operation}", body_checked_by_its_checksum)
    return client


def client_error_code(error: ClientError) -> str:
    """The S3 error code of a ClientError ("NoSuchKey", "BadDigest", "404", ...)."""
    return str(error.response.get("Error", {}).get("Code", ""))


def failure_reason(exc: BaseException) -> str:
    """A short reason for a failed request that quotes no URL: S3's error code, or the operating system's
    words for a network failure ("Connection refused")."""
    if isinstance(exc, ClientError):
        return client_error_code(exc) or "ClientError"
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending:
        link = pending.pop(0)
        if id(link) in seen:
            continue
        seen.add(id(link))
        if isinstance(link, OSError) and link.strerror:
            return str(link.strerror)
        # botocore keeps urllib3's error in kwargs; the OSError under it names the reason.
        nested = getattr(link, "kwargs", {}).get("error") if isinstance(getattr(link, "kwargs", None), dict) else None
        pending += [e for e in (nested, link.__cause__, link.__context__) if isinstance(e, BaseException)]
    if isinstance(exc, ReadTimeoutError):
        return "no answer within the read timeout"
    return type(exc).__name__


def credentials_rejected(endpoint: str, action: str, code: str) -> S3CredentialsError:
    """The error for an endpoint that refused our access key or signature (`code` is S3's, never a secret)."""
    return S3CredentialsError(
        f"S3 endpoint {endpoint} rejected the credentials ({code}) while {action}: {_CREDENTIALS_TO_CHECK}"
    )


@contextmanager
def translate_errors(endpoint_url: str, action: str) -> Iterator[None]:
    """Turn botocore's connection and credential failures into S3Unreachable / S3CredentialsError.

    The messages name the endpoint as host:port and quote no botocore text, which may hold URLs.
    """
    try:
        yield
    except (BotoConnectionError, ConnectionClosedError, ReadTimeoutError) as exc:
        raise S3Unreachable(
            f"S3 endpoint {endpoint_of(endpoint_url)} unreachable while {action} ({failure_reason(exc)}): check "
            "that the server runs and that DOCFILM_S3_ENDPOINT_URL points at it"
        ) from exc
    except (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError) as exc:
        raise S3CredentialsError(
            f"no usable credentials for S3 endpoint {endpoint_of(endpoint_url)} while {action} "
            f"({type(exc).__name__}): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"
        ) from exc
    except ClientError as exc:
        code = client_error_code(exc)
        if code in _CREDENTIAL_CODES:
            raise credentials_rejected(endpoint_of(endpoint_url), action, code) from exc
        raise


def _refused_bucket(client: S3Client, bucket: str) -> S3CredentialsError:
    """Why HEAD of `bucket` got 403: a rejected key, or a key without access to that bucket.

    HEAD answers carry no error body, so a wrong secret and a missing permission look alike; ListBuckets
    answers with a code that tells them apart.
    """
    endpoint = endpoint_of(client.meta.endpoint_url)
    try:
        client.list_buckets()
    except ClientError as exc:
        code = client_error_code(exc)
        if code in _CREDENTIAL_CODES:
            return credentials_rejected(endpoint, f"checking bucket {bucket}", code)
    except Exception:  # noqa: BLE001 - the 403 itself is the error to report
        log.debug("ListBuckets after a 403 on %s failed too", bucket, exc_info=True)
    return S3CredentialsError(
        f"S3 endpoint {endpoint} refused access to bucket {bucket} (403): the credentials lack s3:ListBucket "
        f"on it or it belongs to another account; check DOCFILM_S3_BUCKET, or {_CREDENTIALS_TO_CHECK}"
    )


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
                raise _refused_bucket(client, bucket) from exc
            if code not in {"404", "NoSuchBucket", "NotFound"}:
                raise
    log.info("creating bucket %s at %s", bucket, endpoint_of(endpoint))
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
