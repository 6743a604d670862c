"""Partial indexes on the farm's live leases: a claim finds the next queued pair, and the plan query the pairs held
elsewhere, without walking past the finished ones; the index on `state` alone goes (every claim paid for it).

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
    op.drop_index("ix_render_leases_state", table_name="render_leases")
    op.create_index("ix_render_leases_queued", "render_leases", ["holder", "profile_hash", "asset_id"],
                    postgresql_where=QUEUED, sqlite_where=QUEUED)
    op.create_index("ix_render_leases_leased", "render_leases", ["profile_hash", "expires_at"],
                    postgresql_where=LEASED, sqlite_where=LEASED)


def downgrade() -> None:
    op.drop_index("ix_render_leases_leased", table_name="render_leases")
    op.drop_index("ix_render_leases_queued", table_name="render_leases")
    op.create_index("ix_render_leases_state", "render_leases", ["state"], unique=False)
