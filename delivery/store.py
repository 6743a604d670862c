"""`open_store`: a ready (client, bucket) on the embedded SeaweedFS or on a configured S3 endpoint.

This module composes delivery.client and delivery.seaweed, so that neither of them imports the other.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import DocfilmError
from delivery.client import ensure_bucket, s3_client
from delivery.seaweed import EmbeddedS3
from delivery.settings import S3Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["open_store", "store_kept_up"]

log = logging.getLogger(__name__)

# store_kept_up's start in progress, per home: an open_store in the block waits for it instead of racing it.
_starting: dict[Path, threading.Thread] = {}


@contextmanager
def open_store(settings: S3Settings) -> Iterator[tuple[S3Client, str]]:
    """Yield (client, bucket) ready for uploads; the bucket is created when absent.

    With no endpoint configured the embedded SeaweedFS under <home>/s3 is used: a live one (e.g. started
    by `docfilm serve`) is reused, otherwise one is started for the duration of the block. With an
    endpoint, credentials come from the AWS credential chain.
    """
    if settings.endpoint_url is None:
        starting = _starting.get(settings.home.absolute())
        if starting is not None:
            starting.join()  # store_kept_up's server, still starting: attach to it, never start a second
        with EmbeddedS3.attach_or_start(settings.home, weed_binary=settings.weed_binary) as server:
            client = s3_client(server.endpoint_url, server.access_key, server.secret_key, settings.region,
                               max_attempts=settings.max_attempts)
            try:
                ensure_bucket(client, settings.bucket, settings.region)
                yield client, settings.bucket
            finally:
                client.close()
        return

    client = s3_client(settings.endpoint_url, None, None, settings.region, max_attempts=settings.max_attempts)
    try:
        # Missing credentials surface here as NoCredentialsError, translated to S3CredentialsError.
        ensure_bucket(client, settings.bucket, settings.region)
        yield client, settings.bucket
    finally:
        client.close()


@contextmanager
def store_kept_up(settings: S3Settings) -> Iterator[None]:
    """Keep the embedded S3 of `settings.home` up for the block, so that the block's `open_store` calls attach to
    one server instead of each starting and stopping their own (a start ~0.7 s and a graceful stop ~1 s each).

    The server is started on a thread while the block goes on, and stopped when the block ends if this call
    started it. With an endpoint configured there is nothing to keep up. A start that fails is not reported
    here: the block's own `open_store` meets the same failure and reports it where it is handled.
    """
    if settings.endpoint_url is not None:
        yield
        return
    started: list[EmbeddedS3] = []

    def start() -> None:
        try:
            started.append(EmbeddedS3.attach_or_start(settings.home, weed_binary=settings.weed_binary))
        except DocfilmError as exc:
            log.debug("embedded S3 not started ahead of its use: %s", exc)

    home = settings.home.absolute()
    thread = threading.Thread(target=start, name="embedded-s3-start", daemon=True)
    _starting[home] = thread
    thread.start()
    try:
        yield
    finally:
        thread.join()
        _starting.pop(home, None)
        for server in started:
            server.stop()
