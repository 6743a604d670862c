"""Partial indexes on the farm's live leases: a claim finds the next queued pair, and the plan query the pairs held
elsewhere, without walking past the finished ones; the index on `state` alone goes (every claim paid for it).
And `assets.master_quarantine`: why an asset's master in S3 was quarantined, which keeps it out of the render
plans until the master is stored again.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

QUEUED = sa.text("state = 'queued'")
LEASED = sa.text("state = 'leased'")


def upgrade() -> None:
    op.add_column("assets", sa.Column("master_quarantine", sa.Text(), nullable=True))
    op.drop_index("ix_render_leases_state", table_name="render_leases")
    op.create_index("ix_render_leases_queued", "render_leases", ["holder", "profile_hash", "asset_id"],
                    postgresql_where=QUEUED, sqlite_where=QUEUED)
    op.create_index("ix_render_leases_leased", "render_leases", ["profile_hash", "expires_at"],
                    postgresql_where=LEASED, sqlite_where=LEASED)


def downgrade() -> None:
    op.drop_index("ix_render_leases_leased", table_name="render_leases")
    op.drop_index("ix_render_leases_queued", table_name="render_leases")
    op.create_index("ix_render_leases_state", "render_leases", ["state"], unique=False)
    with op.batch_alter_table("assets") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("master_quarantine")
