"""Errors of the ledger, ingest, probing, the verified copy and ASC MHL."""

from __future__ import annotations

from core.errors import BadInput, DocfilmError, EnvironmentProblem


class ManifestError(DocfilmError):
    """Base error of assets_manifest."""


class LedgerUnavailable(ManifestError, EnvironmentProblem):
    """The ledger database cannot be opened or reached (named as host:port or its SQLite file, never a password)."""


class LedgerSchemaBehind(ManifestError, EnvironmentProblem):
    """A database server's ledger is older than this docfilm's schema: `docfilm db upgrade` brings it up."""


class LedgerSchemaUnknown(ManifestError, EnvironmentProblem):
    """The ledger's schema is at a revision this docfilm does not ship (a newer docfilm upgraded it)."""


class SourceMissing(ManifestError, BadInput):
    """A source path given to ingest does not exist."""


class UnknownScene(ManifestError, BadInput):
    """A scene id given with --scene is not in the film."""


class ProbeFailed(ManifestError):
    """PyAV could not open or decode the file; the message is the reason a producer reads."""


class CopyFailed(ManifestError):
    """A file could not be copied into the library (unreadable source, full disk, …)."""


class CopyVerificationFailed(CopyFailed):
    """The library copy read back different bytes from those read from the source, on every attempt."""


class SourceChanged(CopyFailed):
    """The source file changed (size or mtime) while it was being copied: it is still being written."""


class DestinationTaken(CopyFailed):
    """The library path was created by someone else while the copy was being made.

    `digest` is that of the source as this copy read it, so the caller can tell whether the other file holds
    the same bytes.
    """

    digest: object = None


class MHLError(ManifestError):
    """An ASC MHL history cannot be read or written."""


class MasterUnavailable(ManifestError):
    """An asset's master is neither in the library nor to be had from S3 (missing there, or S3 not in use)."""


class MasterQuarantined(MasterUnavailable):
    """The master's S3 object no longer has the asset's SHA-256: the asset was quarantined with that reason."""
