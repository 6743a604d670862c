"""The ledger's schema revision: where a database stands against the Alembic revisions shipped in the package.

The embedded SQLite ledger is upgraded whenever it is opened. A database server is upgraded only on purpose
(`docfilm db upgrade`, which calls `upgrade`); until then `require_current` refuses it, so that a new docfilm
never writes to tables it does not know.

Opening a current ledger reads its revision with one query and never imports Alembic (a third of a second a
command): `HEAD` names the newest revision, and a test checks it against the revisions shipped.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

from .errors import LedgerSchemaBehind, LedgerSchemaUnknown
from .store import WRITE

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

HEAD = "0007"  # the newest revision in migrations/versions: the one the models in store.py are
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# One lock per database for whoever upgrades it (two `docfilm db upgrade` at once run one after the other).
_PG_UPGRADE_LOCK = 0x646F6366  # "docf"


@dataclass(frozen=True)
class SchemaRevision:
    """Where a ledger's schema stood before and after an upgrade (None: no revision, an empty database)."""

    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def _config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("file_template", "rev%%(rev)s_%%(slug)s")  # a module name mypy accepts
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())


def head() -> str:
    """The newest revision shipped with this docfilm: the one its models are."""
    return HEAD


def shipped_head() -> str | None:
    """The newest revision as Alembic finds it among the files in migrations/versions (for the test of HEAD)."""
    return _scripts().get_current_head()


def known(revision: str) -> bool:
    try:
        return _scripts().get_revision(revision) is not None
    except Exception:  # alembic raises several kinds for an id it does not have
        return False


def current(connection: Connection) -> str | None:
    """The revision the database is at; None when Alembic never ran on it (empty, or made before Alembic)."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    revisions = list(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
    if len(revisions) > 1:  # branches, which this project never makes
        raise LedgerSchemaUnknown(f"the ledger's schema has several heads ({', '.join(sorted(revisions))}); "
                                  "it was changed outside docfilm.")
    return revisions[0] if revisions else None


def upgrade(engine: Engine) -> SchemaRevision:
    """Bring the database to `head()`, in one transaction holding the write lock; a ledger made before Alembic
    is adopted with its rows. Safe to run from several processes at once."""
    with engine.connect() as conn:  # the common case, a current ledger: one read, no lock, no Alembic
        if current(conn) == head():
            return SchemaRevision(before=head(), after=head())
    with engine.execution_options(**WRITE).begin() as conn:  # SQLite: BEGIN IMMEDIATE, the one writer
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_UPGRADE_LOCK})
        before = current(conn)
        if before is not None and not known(before):
            raise LedgerSchemaUnknown(_unknown(before))
        if before != head():
            from alembic import command

            command.upgrade(_config(conn), "head")
        return SchemaRevision(before=before, after=head())


def require_current(engine: Engine, place: str) -> None:
    """LedgerSchemaBehind (exit 3) unless the database is at `head()`: a server is upgraded only on purpose."""
    with engine.connect() as conn:
        revision = current(conn)
    if revision == head():
        return
    if revision is not None and not known(revision):
        raise LedgerSchemaUnknown(_unknown(revision))
    at = f"schema revision {revision}" if revision else "no schema revision (empty, or made before migrations)"
    raise LedgerSchemaBehind(
        f"the ledger at {place} is at {at}, this docfilm needs revision {head()}: "
        "run `docfilm db upgrade` (with the same DOCFILM_DATABASE_URL) once, then try again."
    )


def _unknown(revision: str) -> str:
    return (f"the ledger's schema is at revision {revision}, which this docfilm does not know (a newer docfilm "
            f"upgraded it; this one knows up to {head()}): use the newer docfilm.")


def _draft_revision(message: str) -> None:
    """For a developer: draft the next revision by comparing the models with a scratch SQLite ledger at head."""
    import tempfile

    from .store import make_engine

    with tempfile.TemporaryDirectory() as scratch:
        engine = make_engine(f"sqlite:///{scratch}/ledger.sqlite")
        upgrade(engine)
        from alembic import command

        with engine.begin() as conn:
            command.revision(_config(conn), message=message, autogenerate=True,
                             rev_id=f"{int(head()) + 1:04d}")
        engine.dispose()


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "revision":
        sys.exit('usage: python -m assets_manifest.schema revision "what changed"')
    _draft_revision(sys.argv[2])
