"""Errors of delivery: one base class, one subclass per failure mode."""

from __future__ import annotations


class DeliveryError(Exception):
    """Base error of delivery."""


class S3Unreachable(DeliveryError):
    """The S3 endpoint cannot be used: down, refusing connections or timing out (CLI exit 3)."""


class S3CredentialsError(S3Unreachable):
    """No credentials were found for the endpoint, or it rejected them (an environment problem, exit 3)."""


class EmbeddedS3Failed(S3Unreachable):
    """The embedded SeaweedFS did not start, did not answer in time, or its state files are unusable."""


class ChecksumMismatch(DeliveryError):
    """The bytes the server holds (or received) do not have the SHA-256 we expected."""


class UnsafeKey(DeliveryError):
    """A name cannot be turned into a safe object key (nothing left after sanitising, or too long)."""
