"""Masters and renditions in S3 (DOCFILM_LIBRARY_S3=on): where each asset's master is stored, and the keys and
SHA-256 of the proxy, poster and contact sheet a worker put into S3.

The master's key, ETag and VersionId are the chain of custody from the card to the bucket. All columns are
nullable: a ledger that keeps its masters in the library only leaves them empty.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ASSET_COLUMNS = [
    ("master_key", sa.String(length=1024)),
    ("master_etag", sa.String(length=128)),
    ("master_version_id", sa.String(length=1024)),
]
PROXY_COLUMNS = [
    ("proxy_key", sa.String(length=1024)),
    ("proxy_sha256", sa.String(length=64)),
    ("poster_key", sa.String(length=1024)),
    ("poster_sha256", sa.String(length=64)),
    ("sheet_key", sa.String(length=1024)),
    ("sheet_sha256", sa.String(length=64)),
]


def upgrade() -> None:
    with op.batch_alter_table("assets") as batch:
        for name, type_ in ASSET_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
    with op.batch_alter_table("proxies") as batch:
        for name, type_ in PROXY_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("proxies") as batch:
        for name, _ in reversed(PROXY_COLUMNS):
            batch.drop_column(name)
    with op.batch_alter_table("assets") as batch:
        for name, _ in reversed(ASSET_COLUMNS):
            batch.drop_column(name)
