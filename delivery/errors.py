"""Errors of delivery: one base class, one subclass per failure mode.

Messages name an endpoint as `host:port` (core.errors.endpoint_of) and never carry a secret: no secret key,
no presigned signature, no password.
"""

from __future__ import annotations

from core.errors import BadInput, DocfilmError, EnvironmentProblem


class DeliveryError(DocfilmError):
    """Base error of delivery."""


class S3Unreachable(DeliveryError, EnvironmentProblem):
    """The S3 endpoint cannot be used: down, refusing connections or timing out (exit 3)."""


class S3CredentialsError(S3Unreachable):
    """No credentials were found for the endpoint, or it rejected them (exit 3)."""


class EmbeddedS3Failed(S3Unreachable):
    """The embedded SeaweedFS did not start, did not answer in time, or its state files are unusable (exit 3)."""


class EmbeddedS3PortTaken(EmbeddedS3Failed):
    """weed exited while starting because another program took one of its ports after they were chosen free
    (retried on new ports before it reaches the user; exit 3 if every attempt loses one)."""


class ChecksumMismatch(DeliveryError):
    """The bytes the server holds (or received) do not have the SHA-256 we expected."""


class UnsafeKey(DeliveryError, BadInput):
    """A name cannot be turned into a safe object key (nothing left after sanitising, or too long): exit 2."""


class CachedObjectMismatch(ChecksumMismatch):
    """An object fetched into the local cache does not have the SHA-256 the ledger holds for it."""


class ObjectMissing(DeliveryError):
    """An object the ledger names is not in the bucket (deleted, or never uploaded)."""
