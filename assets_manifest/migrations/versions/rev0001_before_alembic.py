"""The ledger as `create_all` made it before Alembic; adopts such a ledger as it is.

A ledger made before migrations existed already has some or all of these tables: each table and index is created
only when missing, so its rows stay where they are and it is stamped with this revision.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _tables() -> list[tuple[str, list[sa.Column[object] | sa.Constraint], list[tuple[str, list[str], bool]]]]:
    """(table, columns and constraints, indexes as (name, columns, unique)), in creation order."""
    when = sa.DateTime(timezone=True)
    return [
        ("assets", [
            sa.Column("asset_id", sa.String(32), primary_key=True),
            sa.Column("sha256", sa.String(64), nullable=False),
            sa.Column("xxh128", sa.String(32), nullable=False),
            sa.Column("size", sa.Integer(), nullable=False),
            sa.Column("name", sa.Text(), nullable=False),
            sa.Column("path", sa.Text(), nullable=False),
            sa.Column("path_bytes", sa.LargeBinary(), nullable=False),
            sa.Column("kind", sa.String(8), nullable=False),
            sa.Column("container", sa.String(64), nullable=False),
            sa.Column("video_codec", sa.String(32)),
            sa.Column("width", sa.Integer()),
            sa.Column("height", sa.Integer()),
            sa.Column("fps_num", sa.Integer()),
            sa.Column("fps_den", sa.Integer()),
            sa.Column("duration_frames", sa.Integer()),
            sa.Column("rotation", sa.Integer(), nullable=False),
            sa.Column("field_order", sa.String(16), nullable=False),
            sa.Column("vfr", sa.Boolean(), nullable=False),
            sa.Column("audio_tracks", sa.Integer(), nullable=False),
            sa.Column("start_timecode", sa.String(16)),
            sa.Column("scene_id", sa.String(32)),
            sa.Column("shot_id", sa.String(32)),
            sa.Column("probe", sa.JSON(), nullable=False),
            sa.Column("ingested_at", when, nullable=False),
        ], [("ix_assets_sha256", ["sha256"], True), ("ix_assets_path", ["path"], False),
            ("ix_assets_scene_id", ["scene_id"], False)]),
        ("quarantine", [
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("path", sa.Text(), nullable=False),
            sa.Column("path_bytes", sa.LargeBinary(), nullable=False),
            sa.Column("sha256", sa.String(64)),
            sa.Column("reason", sa.Text(), nullable=False),
            sa.Column("seen_at", when, nullable=False),
        ], [("ix_quarantine_path", ["path"], False)]),
        ("uploads", [
            sa.Column("endpoint", sa.String(255), primary_key=True),
            sa.Column("bucket", sa.String(63), primary_key=True),
            sa.Column("key", sa.String(1024), primary_key=True),
            sa.Column("local_path", sa.Text(), nullable=False),
            sa.Column("sha256", sa.String(64), nullable=False),
            sa.Column("checksum", sa.String(64), nullable=False),
            sa.Column("bytes", sa.Integer(), nullable=False),
            sa.Column("etag", sa.String(128)),
            sa.Column("version_id", sa.String(1024)),
            sa.Column("asset_id", sa.String(32)),
            sa.Column("role", sa.String(16), nullable=False),
            sa.Column("uploaded_at", when, nullable=False),
        ], []),
        ("review_notes", [
            sa.Column("note_id", sa.String(64), primary_key=True),
            sa.Column("film_id", sa.String(128), nullable=False),
            sa.Column("scene_id", sa.String(32), nullable=False),
            sa.Column("asset_id", sa.String(64)),
            sa.Column("reviewer", sa.Text(), nullable=False),
            sa.Column("verdict", sa.String(24), nullable=False),
            sa.Column("text", sa.Text(), nullable=False),
            sa.Column("frame", sa.Integer()),
            sa.Column("timecode", sa.String(16)),
            sa.Column("fps", sa.String(16)),
            sa.Column("written_at", when, nullable=False),
            sa.Column("packet_id", sa.String(200), nullable=False),
            sa.Column("manifest_sha256", sa.String(64), nullable=False),
            sa.Column("source_file", sa.Text(), nullable=False),
            sa.Column("file_sha256", sa.String(64), nullable=False),
            sa.Column("imported_at", when, nullable=False),
        ], [("ix_review_notes_film_id", ["film_id"], False), ("ix_review_notes_scene_id", ["scene_id"], False)]),
        ("source_sightings", [
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("asset_id", sa.String(32), sa.ForeignKey("assets.asset_id"), nullable=False),
            sa.Column("path", sa.Text(), nullable=False),
            sa.Column("path_bytes", sa.LargeBinary(), nullable=False),
            sa.Column("size", sa.Integer(), nullable=False),
            sa.Column("mtime_ns", sa.Integer(), nullable=False),
            sa.Column("seen_at", when, nullable=False),
        ], [("ix_source_sightings_path", ["path"], False), ("ix_source_sightings_asset_id", ["asset_id"], False)]),
        ("proxies", [
            sa.Column("asset_id", sa.String(32), sa.ForeignKey("assets.asset_id"), primary_key=True),
            sa.Column("profile_hash", sa.String(32), primary_key=True),
            sa.Column("state", sa.String(8), nullable=False),
            sa.Column("proxy_path", sa.Text()),
            sa.Column("poster_path", sa.Text()),
            sa.Column("reason", sa.Text()),
            sa.Column("qc", sa.JSON(), nullable=False),
            sa.Column("rendered_at", when, nullable=False),
        ], []),
    ]


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    existing = set(inspector.get_table_names())
    for name, columns, indexes in _tables():
        if name not in existing:
            op.create_table(name, *columns)
            have: set[str | None] = set()
        else:  # made by create_all before Alembic; indexes added to the models since are created now
            have = {ix["name"] for ix in inspector.get_indexes(name)}
        for index, cols, unique in indexes:
            if index not in have:
                op.create_index(index, name, cols, unique=unique)


def downgrade() -> None:
    for name, _columns, _indexes in reversed(_tables()):
        op.drop_table(name)
