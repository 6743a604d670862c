"""Errors of the render farm."""

from __future__ import annotations

from core.errors import BadInput, DocfilmError, EnvironmentProblem


class FarmError(DocfilmError):
    """Base error of the farm."""


class FarmPartFailed(FarmError, EnvironmentProblem):
    """A part of `docfilm farm local` (PostgreSQL, the Prefect server, S3, a worker) did not start (exit 3)."""


class PostgresMissing(FarmError, EnvironmentProblem):
    """Debian's PostgreSQL server binaries are not under /usr/lib/postgresql/*/bin (exit 3)."""


class FarmNotConfigured(FarmError, BadInput):
    """`render --farm` without a Prefect server to submit to (PREFECT_API_URL unset) (exit 2)."""


class DeploymentMissing(FarmError, EnvironmentProblem):
    """The render-asset deployment, or its work pool, is not on the Prefect server (exit 3)."""
