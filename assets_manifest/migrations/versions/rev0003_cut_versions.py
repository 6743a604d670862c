"""The versions of each film's cut (editorial.versions): one row per immutable .otio file, the highest current.

Created only when missing: a ledger made by `create_all` after the cut came but before Alembic already has the
table, and 0001 adopts such a ledger without it.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("cut_versions"):
        return
    op.create_table(
        "cut_versions",
        sa.Column("film_id", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("source_path", sa.Text(), nullable=True),
        sa.Column("source_sha256", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("film_id", "version"),
    )


def downgrade() -> None:
    op.drop_table("cut_versions")
