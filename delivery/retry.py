"""Which S3 failures are worth retrying, and a retry loop with backoff for them.

The words come from core.vocabulary (TRANSIENT_S3_CODES, DIGEST_S3_CODES), shared with the flows' retry policy.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError
from botocore.exceptions import ConnectionError as BotoConnectionError

from core.vocabulary import DIGEST_S3_CODES, TRANSIENT_S3_CODES
from delivery.client import client_error_code
from delivery.errors import ChecksumMismatch, S3CredentialsError

__all__ = ["is_transient", "with_retries"]

log = logging.getLogger(__name__)

T = TypeVar("T")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or link.__context__


def is_transient(exc: BaseException) -> bool:
    """True for failures worth retrying: lost connections, timeouts, 5xx and throttling; never a bad digest
    or rejected credentials. Looks through the cause chain, so an S3Unreachable made from a dropped
    connection counts as transient."""
    for link in _chain(exc):
        if isinstance(link, ChecksumMismatch | S3CredentialsError):
            return False
        if isinstance(link, BotoConnectionError | ConnectionClosedError | ReadTimeoutError | ConnectionError):
            return True
        if isinstance(link, ClientError):
            code = client_error_code(link)
            if code in DIGEST_S3_CODES:
                return False
            status = int(link.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            return code in TRANSIENT_S3_CODES or status >= 500
    return False


def with_retries(action: Callable[[], T], what: str, attempts: int = 4, base_delay: float = 0.5) -> T:
    """Run `action`, retrying transient failures with exponential backoff (0.5, 1, 2 s ...)."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception as exc:
            if attempt == attempts or not is_transient(exc):
                raise
            delay = base_delay * 2 ** (attempt - 1)
            log.warning("%s failed (%s); retry %d/%d in %.1f s", what, type(exc).__name__, attempt, attempts - 1, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")
