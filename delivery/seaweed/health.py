"""Readiness of the embedded store: a signed ListBuckets that succeeds, polled until a deadline."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from core.errors import endpoint_of
from delivery.client import failure_reason, s3_client
from delivery.errors import EmbeddedS3Failed, EmbeddedS3PortTaken
from delivery.seaweed.process import log_tail
from delivery.seaweed.state import S3Credentials

__all__ = ["wait_until_answering"]

# What weed logs when a port it was given is busy at bind time (its HTTP check; a bind of a gRPC listener).
_PORT_LOST = ("not available", "address already in use")


def wait_until_answering(
    endpoint_url: str,
    credentials: S3Credentials,
    region: str,
    *,
    timeout: float,
    log_path: Path,
    process: subprocess.Popen[bytes] | None = None,
) -> None:
    """Return once a signed ListBuckets succeeds at `endpoint_url`; EmbeddedS3Failed when `process` exits
    first or `timeout` s pass. The error quotes the end of weed's log at `log_path`."""
    client = s3_client(
        endpoint_url,
        credentials.access_key,
        credentials.secret_key,
        region,
        connect_timeout=1,
        read_timeout=min(5.0, timeout),
        max_attempts=1,
    )
    deadline = time.monotonic() + timeout
    last_error = "no answer"
    try:
        while True:
            if process is not None and process.poll() is not None:
                tail = log_tail(log_path)
                failure = EmbeddedS3PortTaken if any(m in tail for m in _PORT_LOST) else EmbeddedS3Failed
                raise failure(
                    f"weed exited with status {process.returncode} while starting; log {log_path} ends:\n{tail}"
                )
            try:
                client.list_buckets()
                return
            except (BotoCoreError, ClientError) as exc:
                last_error = failure_reason(exc)
            if time.monotonic() >= deadline:
                raise EmbeddedS3Failed(
                    f"embedded S3 at {endpoint_of(endpoint_url)} did not answer within {timeout:.0f} s "
                    f"({last_error}); log {log_path} ends:\n{log_tail(log_path)}"
                )
            time.sleep(0.1)
    finally:
        client.close()
