"""The SHA-256 of each part of a master that goes to S3 in parts, taken at ingest in the read that hashes it:
`assets.part_size` and `assets.part_sha256` (the raw 32-byte digests joined). The upload sends them for the
server to check each part, so the master is not hashed again to upload it. Both nullable: assets ingested
before, or whose masters stay in the library, have none and upload as before.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

INT64 = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("assets") as batch:
        batch.add_column(sa.Column("part_size", INT64, nullable=True))
        batch.add_column(sa.Column("part_sha256", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("assets") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("part_sha256")
        batch.drop_column("part_size")
