"""Alembic's entry point for the ledger: runs the revisions on the connection assets_manifest.schema hands it.

There is no alembic.ini and no URL here: the caller opens the connection (with its transaction, and on SQLite its
write lock) and passes it in `config.attributes["connection"]`. How to add a revision: README.md in this folder.
"""

from __future__ import annotations

from alembic import context

from assets_manifest.store import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("the ledger's migrations run through assets_manifest.schema, which passes a connection")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters a table by copying it
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
