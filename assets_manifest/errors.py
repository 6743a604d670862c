"""Errors of the ledger and ingest."""

from __future__ import annotations


class ManifestError(Exception):
    """Base error of assets_manifest."""


class LedgerUnavailable(ManifestError):
    """The ledger database cannot be opened or reached."""


class SourceMissing(ManifestError):
    """A source path given to ingest does not exist."""


class UnknownScene(ManifestError):
    """A scene id given with --scene is not in the film."""
