"""The farm's leases on (asset, profile) pairs: who renders a proxy, until when, and who finished it.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "render_leases",
        sa.Column("asset_id", sa.String(length=32), nullable=False),
        sa.Column("profile_hash", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("holder", sa.String(length=255), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(length=255), nullable=True),
        sa.Column("proxy_key", sa.Text(), nullable=True),
        sa.Column("proxy_sha256", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.asset_id"]),
        sa.PrimaryKeyConstraint("asset_id", "profile_hash"),
    )
    op.create_index(op.f("ix_render_leases_state"), "render_leases", ["state"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_render_leases_state"), table_name="render_leases")
    op.drop_table("render_leases")
