"""Sizes and modification times as 64-bit integers: a master over 2 GiB, and any mtime in nanoseconds.

SQLite's INTEGER is 64-bit already, so this only alters the columns on a database server (PostgreSQL's INTEGER
is 32-bit).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

WIDE = [("assets", "size"), ("source_sightings", "size"), ("source_sightings", "mtime_ns"), ("uploads", "bytes")]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for table, column in WIDE:
        op.alter_column(table, column, type_=sa.BigInteger(), existing_type=sa.Integer(), existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for table, column in WIDE:
        op.alter_column(table, column, type_=sa.Integer(), existing_type=sa.BigInteger(), existing_nullable=False)
