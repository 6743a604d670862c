"""The ledger's tables (SQLAlchemy 2), and the engine factory: SQLite in WAL mode, or a server (PostgreSQL).

The tables are made and changed by the Alembic revisions in assets_manifest/migrations (run by
assets_manifest.schema), not by `create_all`: a change here needs its revision there.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core.part_hashes import PartHashes
from core.vocabulary import MediaKind


def utcnow() -> datetime:
    return datetime.now(UTC)


# Sizes and nanosecond times: 64-bit. SQLite's INTEGER is 64-bit already and stays INTEGER (revision 0002).
INT64 = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """A moment stored with its time zone where the database keeps one; read back as naive UTC on every database.

    SQLite keeps no zone and returns what was written (naive UTC); PostgreSQL returns its session's zone. Both
    read back the same way, so JSON and comparisons do not depend on the database.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or dialect.name == "sqlite":
            return value.astimezone(UTC).replace(tzinfo=None) if value and value.tzinfo else value
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is None:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: UtcDateTime()}


class Asset(Base):
    """One piece of footage, identified by its content (the same bytes twice are one asset)."""

    __tablename__ = "assets"

    asset_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    xxh128: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(INT64)
    name: Mapped[str] = mapped_column(Text)  # NFC display name
    path: Mapped[str] = mapped_column(Text, index=True)  # where the master is read from: the library copy
    path_bytes: Mapped[bytes] = mapped_column(LargeBinary)  # the original bytes of the first source's path
    kind: Mapped[MediaKind] = mapped_column(String(8))
    container: Mapped[str] = mapped_column(String(64))
    video_codec: Mapped[str | None] = mapped_column(String(32))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    fps_num: Mapped[int | None] = mapped_column(Integer)
    fps_den: Mapped[int | None] = mapped_column(Integer)
    duration_frames: Mapped[int | None] = mapped_column(Integer)
    rotation: Mapped[int] = mapped_column(Integer, default=0)
    field_order: Mapped[str] = mapped_column(String(16), default="progressive")
    vfr: Mapped[bool] = mapped_column(default=False)
    audio_tracks: Mapped[int] = mapped_column(Integer, default=0)
    start_timecode: Mapped[str | None] = mapped_column(String(16))
    scene_id: Mapped[str | None] = mapped_column(String(32), index=True)
    shot_id: Mapped[str | None] = mapped_column(String(32))
    probe: Mapped[dict[str, Any]] = mapped_column(JSON)
    ingested_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The master in S3 (DOCFILM_LIBRARY_S3=on), as the server answered its verified upload (revision 0004).
    master_key: Mapped[str | None] = mapped_column(String(1024), default=None)
    master_etag: Mapped[str | None] = mapped_column(String(128), default=None)
    master_version_id: Mapped[str | None] = mapped_column(String(1024), default=None)
    # Why the master's S3 object was quarantined (it no longer had the asset's SHA-256), revision 0006; None: usable.
    # A quarantined asset is left out of every render plan until its master is stored again (ingested again).
    master_quarantine: Mapped[str | None] = mapped_column(Text, default=None)
    # The SHA-256 of each `part_size` part of the master (raw digests joined), taken at ingest in the read that
    # hashed it when it was to go to S3 in parts (revision 0007): the upload sends them for the server to check.
    part_size: Mapped[int | None] = mapped_column(INT64, default=None)
    part_sha256: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)

    @property
    def part_hashes(self) -> PartHashes | None:
        """The master's part hashes as recorded, or None (ingested before revision 0007, or not for S3)."""
        if not self.part_size or not self.part_sha256:
            return None
        try:
            return PartHashes.from_blob(self.part_size, self.part_sha256)
        except ValueError:  # not whole digests: the upload hashes the parts itself
            return None

    @property
    def fps(self) -> str | None:
        return f"{self.fps_num}/{self.fps_den}" if self.fps_num and self.fps_den else None


class SourceSighting(Base):
    """A path where an asset's bytes were found (the first one and every duplicate)."""

    __tablename__ = "source_sightings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.asset_id"), index=True)
    path: Mapped[str] = mapped_column(Text, index=True)
    path_bytes: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(INT64)
    mtime_ns: Mapped[int] = mapped_column(INT64)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class Quarantined(Base):
    """A file that could not be read, probed or decoded, with the reason."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    path: Mapped[str] = mapped_column(Text, index=True)
    path_bytes: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class Proxy(Base):
    """A derived review proxy and poster of an asset under one render profile."""

    __tablename__ = "proxies"

    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.asset_id"), primary_key=True)
    profile_hash: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(8))  # done or failed
    proxy_path: Mapped[str | None] = mapped_column(Text)
    poster_path: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    qc: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rendered_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The files as the worker that made them put them into S3, with their SHA-256 (hex; revision 0004).
    proxy_key: Mapped[str | None] = mapped_column(String(1024), default=None)
    proxy_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    poster_key: Mapped[str | None] = mapped_column(String(1024), default=None)
    poster_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    sheet_key: Mapped[str | None] = mapped_column(String(1024), default=None)
    sheet_sha256: Mapped[str | None] = mapped_column(String(64), default=None)


STORED_ROLES = ("proxy", "poster", "sheet")  # a Proxy row's files in S3: columns <role>_key and <role>_sha256


class Upload(Base):
    """An object put to S3 and verified by its checksum."""

    __tablename__ = "uploads"

    endpoint: Mapped[str] = mapped_column(String(255), primary_key=True)
    bucket: Mapped[str] = mapped_column(String(63), primary_key=True)
    key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    local_path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    checksum: Mapped[str] = mapped_column(String(64))  # base64 SHA-256 as S3 reports it
    bytes: Mapped[int] = mapped_column(INT64)
    etag: Mapped[str | None] = mapped_column(String(128))
    version_id: Mapped[str | None] = mapped_column(String(1024))  # when the bucket keeps versions
    asset_id: Mapped[str | None] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(16))  # proxy, poster, packet
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReviewNoteRow(Base):
    """A reviewer's note taken back from an exported notes file (review.notes); never edited once stored."""

    __tablename__ = "review_notes"

    note_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # made by the packet's page
    film_id: Mapped[str] = mapped_column(String(128), index=True)
    scene_id: Mapped[str] = mapped_column(String(32), index=True)
    asset_id: Mapped[str | None] = mapped_column(String(64))
    reviewer: Mapped[str] = mapped_column(Text)
    verdict: Mapped[str] = mapped_column(String(24))  # comment, approve, changes-requested
    text: Mapped[str] = mapped_column(Text)
    frame: Mapped[int | None] = mapped_column(Integer)  # from the clip's first frame, at its rate
    timecode: Mapped[str | None] = mapped_column(String(16))  # source timecode of that frame
    fps: Mapped[str | None] = mapped_column(String(16))
    written_at: Mapped[datetime] = mapped_column()
    packet_id: Mapped[str] = mapped_column(String(200))
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    source_file: Mapped[str] = mapped_column(Text)
    file_sha256: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)


class CutVersionRow(Base):
    """One version of a film's cut: an immutable .otio file under DOCFILM_HOME/cuts/<film>/ (editorial.versions).

    The current cut of a film is its highest version. Rows are never edited once stored.
    """

    __tablename__ = "cut_versions"

    film_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))  # of the .otio file's bytes
    origin: Mapped[str] = mapped_column(String(16))  # assembled or imported
    source_path: Mapped[str | None] = mapped_column(Text)  # the imported file, as given
    source_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RenderLease(Base):
    """Who renders an (asset, profile) pair on the farm, until when, and who finished it (assets_manifest.leases).

    `queued`: a planner reserved it and submitted its flow run; `leased`: a worker renders it and renews
    `expires_at` with a heartbeat; `done`: a proxy was recorded, by `worker`, stored at `proxy_key`; `failed`.
    """

    __tablename__ = "render_leases"
    # Revision 0006: only the live rows are indexed, so claims and the plan query do not walk past finished pairs.
    __table_args__ = (
        Index("ix_render_leases_queued", "holder", "profile_hash", "asset_id",
              postgresql_where=text("state = 'queued'"), sqlite_where=text("state = 'queued'")),
        Index("ix_render_leases_leased", "profile_hash", "expires_at",
              postgresql_where=text("state = 'leased'"), sqlite_where=text("state = 'leased'")),
    )

    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.asset_id"), primary_key=True)
    profile_hash: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(8))
    holder: Mapped[str] = mapped_column(String(255))  # the planner's run or the worker holding it now
    token: Mapped[str] = mapped_column(String(32))  # changes with every claim: a heartbeat renews only its own
    expires_at: Mapped[datetime] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(255))  # who made the recorded proxy
    proxy_key: Mapped[str | None] = mapped_column(Text)
    proxy_sha256: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


WRITE = {"docfilm_write": True}  # execution option: this transaction will write (SQLite: BEGIN IMMEDIATE)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver must not open transactions behind SQLAlchemy's back: _sqlite_begin emits BEGIN itself.
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    # busy_timeout first: switching a fresh file to WAL needs a lock another process may hold right now.
    cur.execute("PRAGMA busy_timeout=30000")
    # WAL lets a render read while an ingest writes; busy_timeout waits for the other writer instead of failing.
    # SQLite can still answer "database is locked" at once here (busy handler not consulted while another
    # process switches or recovers the journal), so a few short retries.
    for attempt in range(20):
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 19:
                raise
            time.sleep(0.05 * (attempt + 1))
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # A deferred transaction that reads and then writes fails at once with "database is locked" when another
    # process wrote in between (busy_timeout cannot help: its snapshot is stale). Writers take the lock up
    # front instead, and wait for it.
    immediate = conn.get_execution_options().get("docfilm_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str, pool_size: int = 16) -> Engine:
    """An engine for the ledger URL; SQLite files get WAL and a busy timeout, and their folder is created.

    It makes no table: assets_manifest.schema brings the database to the models' revision.
    """
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # pre_ping: a pooled connection to a server that restarted is replaced instead of failing the next query.
    # pool_size: a connection per thread that uses the ledger at once (SQLAlchemy's default of 5, plus 10 opened
    # and closed again, made 16 lease claimers queue for connections and reconnect).
    return create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size)
