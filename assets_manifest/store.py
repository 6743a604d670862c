"""The ledger's tables (SQLAlchemy 2), and the engine factory: SQLite in WAL mode, or any URL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    create_engine,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA_VERSION = 1


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


class Asset(Base):
    """One piece of footage, identified by its content (the same bytes twice are one asset)."""

    __tablename__ = "assets"

    asset_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    xxh128: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(Text)  # NFC display name
    path: Mapped[str] = mapped_column(Text)  # where the master is read from
    path_bytes: Mapped[bytes] = mapped_column(LargeBinary)  # the name's original bytes
    kind: Mapped[str] = mapped_column(String(8))
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

    @property
    def fps(self) -> str | None:
        return f"{self.fps_num}/{self.fps_den}" if self.fps_num and self.fps_den else None


class SourceSighting(Base):
    """A path where an asset's bytes were found (the first one and every duplicate)."""

    __tablename__ = "source_sightings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.asset_id"), index=True)
    path: Mapped[str] = mapped_column(Text)
    path_bytes: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    mtime_ns: Mapped[int] = mapped_column(Integer)
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


class Upload(Base):
    """An object put to S3 and verified by its checksum."""

    __tablename__ = "uploads"

    endpoint: Mapped[str] = mapped_column(String(255), primary_key=True)
    bucket: Mapped[str] = mapped_column(String(63), primary_key=True)
    key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    local_path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    checksum: Mapped[str] = mapped_column(String(64))  # base64 SHA-256 as S3 reports it
    bytes: Mapped[int] = mapped_column(Integer)
    etag: Mapped[str | None] = mapped_column(String(128))
    asset_id: Mapped[str | None] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(16))  # proxy, poster, packet
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    # WAL lets a render read while an ingest writes; busy_timeout waits for the other writer instead of failing.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str) -> Engine:
    """An engine for the ledger URL; SQLite files get WAL and a busy timeout, and their folder is created."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    Base.metadata.create_all(engine)
    return engine
