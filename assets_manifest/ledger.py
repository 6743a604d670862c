"""Reading and writing the ledger: assets, sightings, quarantine, proxies, uploads."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, QueuePool, and_, bindparam, create_engine, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from core.errors import endpoint_of
from core.vocabulary import MEDIA_KINDS, MediaKind

from . import schema
from .errors import LedgerUnavailable
from .settings import LedgerSettings
from .store import (
    STORED_ROLES,
    WRITE,
    Asset,
    CutVersionRow,
    Proxy,
    Quarantined,
    ReviewNoteRow,
    SourceSighting,
    Upload,
    make_engine,
    utcnow,
)

if TYPE_CHECKING:  # a type only: the ledger stores a QC record as JSON, it never imports renders
    from renders.outcome import QcRecord


def ledger_place(url: str) -> str:
    """Where a ledger URL points, for messages: the SQLite file, or the database server as host:port.

    Never the user or password a URL may carry.
    """
    try:
        parsed = make_url(url)
    except Exception:  # an unparseable URL is named by its scheme only: it may hold a password
        return f"an unreadable URL ({url.partition(':')[0]}:…)"
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite file {parsed.database or ':memory:'}"
    return f"{parsed.get_backend_name()} server {endpoint_of(url)}"


def _reason(exc: BaseException, url: str) -> str:
    """The driver's or OS's reason in one line (psycopg adds hints on further lines), without the URL's password.

    SQLAlchemy quotes a URL it cannot parse in its message, so the URL itself is never repeated either.
    """
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")
    if isinstance(exc, ValueError) and not isinstance(exc, SQLAlchemyError):
        return "DOCFILM_DATABASE_URL is not a valid SQLAlchemy URL"
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    text = text.splitlines()[0] if text else type(exc).__name__
    text = text.replace(url, "DOCFILM_DATABASE_URL")
    try:
        password = make_url(url).password
    except Exception:
        password = None
    return text.replace(str(password), "***") if password else text


def _unavailable(settings: LedgerSettings, exc: BaseException) -> LedgerUnavailable:
    url = settings.url()
    reason = _reason(exc, url)
    return LedgerUnavailable(f"the ledger at {ledger_place(url)} cannot be opened: {reason}. {_fix(settings)}")


def _fix(settings: LedgerSettings) -> str:
    if settings.database_url:
        return "Check that the database server is running and reachable, or fix DOCFILM_DATABASE_URL."
    return "Check that DOCFILM_HOME is a folder this user can write to."


# Built once: making the statement costs as much as running it on SQLite.
_MASTER_OF = select(Asset.path, Asset.size).where(Asset.sha256 == bindparam("sha256"))


class Ledger:
    """The ledger behind one database URL."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._autocommit: Engine | None = None
        self._autocommit_made = threading.Lock()
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(engine.execution_options(**WRITE), expire_on_commit=False)

    @classmethod
    def open(cls, settings: LedgerSettings) -> Ledger:
        """Open the ledger the settings name; LedgerUnavailable when it cannot be.

        SQLite (the embedded default) is migrated to this docfilm's schema here; a database server must already
        be there (`docfilm db upgrade`), else LedgerSchemaBehind.
        """
        url = settings.url()
        engine = cls._engine(settings)
        try:
            if engine.dialect.name == "sqlite":
                schema.upgrade(engine)
            else:
                schema.require_current(engine, ledger_place(url))
        except (SQLAlchemyError, OSError) as exc:
            engine.dispose()
            raise _unavailable(settings, exc) from exc
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    @classmethod
    def upgrade(cls, settings: LedgerSettings) -> schema.SchemaRevision:
        """Apply the schema's migrations to the ledger the settings name (`docfilm db upgrade`)."""
        engine = cls._engine(settings)
        try:
            return schema.upgrade(engine)
        except (SQLAlchemyError, OSError) as exc:
            raise _unavailable(settings, exc) from exc
        finally:
            engine.dispose()

    @staticmethod
    def _engine(settings: LedgerSettings) -> Engine:
        try:
            return make_engine(settings.url(), settings.database_pool_size)
        except (SQLAlchemyError, OSError, ValueError) as exc:  # ValueError: SQLAlchemy on a malformed URL
            raise _unavailable(settings, exc) from exc

    def close(self) -> None:
        self.engine.dispose()
        if self._autocommit is not None:
            self._autocommit.dispose()

    @property
    def autocommit_engine(self) -> Engine:
        """A second pool to the same server for statements that are a transaction by themselves (a lease claim),
        one round trip each: no BEGIN or COMMIT, and no ping at checkout, so the caller handles a dropped
        connection (DBAPIError.connection_invalidated) by trying once more."""
        with self._autocommit_made:
            if self._autocommit is None:
                pool = self.engine.pool
                size = pool.size() if isinstance(pool, QueuePool) else 5
                self._autocommit = create_engine(self.engine.url, isolation_level="AUTOCOMMIT", pool_size=size,
                                                 max_overflow=size)
            return self._autocommit

    @contextmanager
    def session(self, write: bool = False) -> Iterator[Session]:
        """A transaction: committed when the block ends, rolled back on error.

        `write=True` for a transaction that writes: on SQLite it takes the write lock when it begins
        (waiting for another writer up to the busy timeout) instead of failing half-way.
        """
        with (self._write_sessions if write else self._sessions).begin() as s:
            yield s

    # assets
    def asset(self, asset_id: str) -> Asset | None:
        with self.session() as s:
            return s.get(Asset, asset_id)

    def asset_by_sha256(self, sha256: str) -> Asset | None:
        with self.session() as s:
            return s.scalar(select(Asset).where(Asset.sha256 == sha256))

    def assets(self, kind: str | None = None, scene_id: str | None = None) -> list[Asset]:
        # NULLS FIRST spelled out: SQLite's default, PostgreSQL's is the opposite.
        q = select(Asset).order_by(Asset.scene_id.nulls_first(), Asset.name, Asset.asset_id)
        if kind:
            q = q.where(Asset.kind == kind)
        if scene_id:
            q = q.where(Asset.scene_id == scene_id)
        with self.session() as s:
            return list(s.scalars(q))

    def asset_by_path(self, path: str) -> Asset | None:
        """The asset whose master is at this path."""
        with self.session() as s:
            return s.scalar(select(Asset).where(Asset.path == path).limit(1))

    def asset_by_sighting(self, path: str, size: int, mtime_ns: int) -> Asset | None:
        """The asset last found at this source path with this size and mtime (a hint, not a proof)."""
        q = (
            select(Asset)
            .join(SourceSighting, SourceSighting.asset_id == Asset.asset_id)
            .where(SourceSighting.path == path, SourceSighting.size == size, SourceSighting.mtime_ns == mtime_ns)
            .order_by(SourceSighting.id.desc())
            .limit(1)
        )
        with self.session() as s:
            return s.scalar(q)

    def sightings_under(self, folder: str) -> dict[tuple[str, int, int], Asset]:
        """`asset_by_sighting` for every source path under a folder at once: (path, size, mtime_ns) -> asset.

        One query for a card instead of one per file; the latest sighting of a path, size and mtime wins, as
        in `asset_by_sighting`. Paths are matched by the text prefix, so a folder `/a/C1` also brings `/a/C10`.
        """
        q = (
            select(SourceSighting.path, SourceSighting.size, SourceSighting.mtime_ns, Asset)
            .join(Asset, SourceSighting.asset_id == Asset.asset_id)
            .where(SourceSighting.path.startswith(folder.rstrip("/"), autoescape=True))
            .order_by(SourceSighting.id.desc())
        )
        found: dict[tuple[str, int, int], Asset] = {}
        with self.session() as s:
            for path, size, mtime_ns, asset in s.execute(q):
                found.setdefault((path, size, mtime_ns), asset)
        return found

    def master_of(self, sha256: str) -> tuple[str, int] | None:
        """(path, size) of the asset with these bytes, None when there is none: `asset_by_sha256` without the
        ORM's cost, for the check every fresh copy makes."""
        with self.engine.connect() as connection:
            row = connection.execute(_MASTER_OF, {"sha256": sha256}).first()
        return (row[0], row[1]) if row is not None else None

    def assets_under(self, folder: str) -> list[Asset]:
        """Assets whose master lies inside a folder (given as the path text the ledger stores)."""
        prefix = folder.rstrip("/") + "/"
        with self.session() as s:
            return list(s.scalars(select(Asset).where(Asset.path.startswith(prefix, autoescape=True))))

    def set_asset_path(self, asset_id: str, path: str) -> None:
        """Point an asset at a new master (its old one vanished and was copied again from a source)."""
        with self.session(write=True) as s:
            s.execute(update(Asset).where(Asset.asset_id == asset_id).values(path=path))

    def add_asset(self, asset: Asset, sighting: SourceSighting) -> tuple[Asset, bool]:
        """Store a new asset with its first sighting; when its bytes are already known, only the sighting.

        Returns the stored asset and whether it was new. Two ingests racing on the same bytes both end
        with one asset row: the unique sha256 decides and the loser records a sighting.
        """
        try:
            return self._add_asset(asset, sighting)
        except IntegrityError:
            # Another process inserted the same bytes between our check and our commit (PostgreSQL; SQLite
            # serialises writers). Now the row exists: record a sighting of it.
            sighting = SourceSighting(path=sighting.path, path_bytes=sighting.path_bytes, size=sighting.size,
                                      mtime_ns=sighting.mtime_ns)
            return self._add_asset(asset, sighting)

    def add_assets(self, rows: Sequence[tuple[Asset, SourceSighting]]) -> list[tuple[Asset, bool]]:
        """`add_asset` for many rows in one transaction, in order (a row whose bytes an earlier row of the same
        call brought is a sighting of it). Returns, for each row, the stored asset and whether it was new.

        Two ingests racing on the same bytes: when another process's row makes the transaction fail, it is
        run again and now finds that row (a few times at most).
        """
        for attempt in range(1, 4):
            try:
                return self._add_assets(rows)
            except IntegrityError:
                if attempt == 3:
                    raise
        raise AssertionError("unreachable")

    def _add_assets(self, rows: Sequence[tuple[Asset, SourceSighting]]) -> list[tuple[Asset, bool]]:
        shas = {asset.sha256 for asset, _sighting in rows}
        out: list[tuple[Asset, bool]] = []
        with self.session(write=True) as s:
            known = {a.sha256: a for a in s.scalars(select(Asset).where(Asset.sha256.in_(shas)))}
            seen = {
                (asset_id, path) for asset_id, path in s.execute(
                    select(SourceSighting.asset_id, SourceSighting.path)
                    .where(SourceSighting.asset_id.in_([a.asset_id for a in known.values()]))
                )
            } if known else set()
            for asset, given in rows:
                # A fresh sighting each attempt: one from a rolled-back attempt must not be reused.
                sighting = SourceSighting(path=given.path, path_bytes=given.path_bytes, size=given.size,
                                          mtime_ns=given.mtime_ns)
                existing = known.get(asset.sha256)
                new = existing is None
                if existing is None:
                    s.add(asset)
                    existing = known[asset.sha256] = asset
                sighting.asset_id = existing.asset_id
                if (existing.asset_id, sighting.path) not in seen:
                    seen.add((existing.asset_id, sighting.path))
                    s.add(sighting)
                out.append((existing, new))
        return out

    def _add_asset(self, asset: Asset, sighting: SourceSighting) -> tuple[Asset, bool]:
        with self.session(write=True) as s:
            existing = s.scalar(select(Asset).where(Asset.sha256 == asset.sha256))
            if existing is None:
                s.add(asset)
                s.flush()
                sighting.asset_id = asset.asset_id
                s.add(sighting)
                return asset, True
            sighting.asset_id = existing.asset_id
            if not self._seen(s, existing.asset_id, sighting.path):
                s.add(sighting)
            return existing, False

    @staticmethod
    def _seen(s: Session, asset_id: str, path: str) -> bool:
        q = select(SourceSighting.id).where(
            and_(SourceSighting.asset_id == asset_id, SourceSighting.path == path)
        )
        return s.scalar(q) is not None

    def record_master_stored(self, asset_id: str, key: str, etag: str | None, version_id: str | None) -> None:
        """Note where the asset's master was put into S3, as the server answered its verified upload; a master
        quarantined before is usable again."""
        with self.session(write=True) as s:
            s.execute(update(Asset).where(Asset.asset_id == asset_id)
                      .values(master_key=key, master_etag=etag, master_version_id=version_id, master_quarantine=None))

    def quarantine_master(self, asset: Asset, reason: str) -> None:
        """The asset's master in S3 no longer has its SHA-256: quarantined with the reason (listed with the files
        ingest refused), and out of the render plans until the master is stored again (record_master_stored)."""
        self.quarantine(asset.path, asset.path_bytes, reason, asset.sha256)
        with self.session(write=True) as s:
            s.execute(update(Asset).where(Asset.asset_id == asset.asset_id).values(master_quarantine=reason))

    def sightings(self, asset_id: str) -> list[SourceSighting]:
        with self.session() as s:
            return list(s.scalars(select(SourceSighting).where(SourceSighting.asset_id == asset_id)))

    def quarantine(self, path: str, path_bytes: bytes, reason: str, sha256: str | None) -> None:
        """Record a refused file once per (path, content); seeing it again only updates the time and reason."""
        with self.session(write=True) as s:
            row = s.scalar(
                select(Quarantined).where(Quarantined.path == path, Quarantined.sha256.is_(sha256))
                if sha256 is None
                else select(Quarantined).where(Quarantined.path == path, Quarantined.sha256 == sha256)
            )
            if row is None:
                s.add(Quarantined(path=path, path_bytes=path_bytes, reason=reason, sha256=sha256))
            else:
                row.reason = reason
                row.seen_at = utcnow()

    def quarantined(self) -> list[Quarantined]:
        with self.session() as s:
            return list(s.scalars(select(Quarantined).order_by(Quarantined.id)))

    # proxies
    def render_states(
        self, profile_hash: str, scene_id: str | None = None, kinds: Sequence[MediaKind] = MEDIA_KINDS
    ) -> list[tuple[Asset, Proxy | None]]:
        """Every asset of `kinds` with its proxy row for this profile (None: never rendered), in one query."""
        q = (
            select(Asset, Proxy)
            .outerjoin(Proxy, and_(Proxy.asset_id == Asset.asset_id, Proxy.profile_hash == profile_hash))
            .where(Asset.kind.in_(kinds))
            .order_by(Asset.asset_id)
        )
        if scene_id:
            q = q.where(Asset.scene_id == scene_id)
        with self.session() as s:
            return [(asset, proxy) for asset, proxy in s.execute(q).all()]

    def proxies(self, profile_hash: str) -> dict[str, Proxy]:
        with self.session() as s:
            rows = s.scalars(select(Proxy).where(Proxy.profile_hash == profile_hash))
            return {p.asset_id: p for p in rows}

    def record_proxy(
        self,
        asset_id: str,
        profile_hash: str,
        *,
        state: str,
        proxy_path: Path | None = None,
        poster_path: Path | None = None,
        reason: str | None = None,
        qc: QcRecord | None = None,
        stored: dict[str, tuple[str, str]] | None = None,
    ) -> None:
        """Record a render's outcome; `stored` gives, by role ("proxy", "poster", "sheet"), the S3 key and
        SHA-256 (hex) of each file the worker put into S3, in the same transaction."""
        try:
            self._record_proxy(asset_id, profile_hash, state, proxy_path, poster_path, reason, qc, stored)
        except IntegrityError:  # another process inserted the row first (PostgreSQL): now it is an update
            self._record_proxy(asset_id, profile_hash, state, proxy_path, poster_path, reason, qc, stored)

    def _record_proxy(self, asset_id: str, profile_hash: str, state: str, proxy_path: Path | None,
                      poster_path: Path | None, reason: str | None, qc: QcRecord | None,
                      stored: dict[str, tuple[str, str]] | None = None) -> None:
        with self.session(write=True) as s:
            self.put_proxy(s, asset_id, profile_hash, state=state, proxy_path=proxy_path, poster_path=poster_path,
                           reason=reason, qc=qc, stored=stored)

    @staticmethod
    def put_proxy(s: Session, asset_id: str, profile_hash: str, *, state: str, proxy_path: Path | None = None,
                  poster_path: Path | None = None, reason: str | None = None, qc: QcRecord | None = None,
                  stored: dict[str, tuple[str, str]] | None = None) -> None:
        """Insert or replace a proxy row inside the caller's transaction (the farm records it with its lease)."""
        row = s.get(Proxy, (asset_id, profile_hash)) or Proxy(asset_id=asset_id, profile_hash=profile_hash)
        row.state = state
        row.proxy_path = str(proxy_path) if proxy_path else None
        row.poster_path = str(poster_path) if poster_path else None
        row.reason = reason
        row.qc = qc.to_json() if qc is not None else {}  # JSON only here, where it is stored
        row.rendered_at = utcnow()
        for role in STORED_ROLES:  # a new outcome replaces the old files' keys, or clears them
            key, sha256 = (stored or {}).get(role, (None, None))
            setattr(row, f"{role}_key", key)
            setattr(row, f"{role}_sha256", sha256)
        s.add(row)

    # uploads
    def upload(self, endpoint: str, bucket: str, key: str) -> Upload | None:
        with self.session() as s:
            return s.get(Upload, (endpoint, bucket, key))

    def uploads(self) -> list[Upload]:
        with self.session() as s:
            return list(s.scalars(select(Upload).order_by(Upload.key)))

    def record_upload(self, row: Upload) -> None:
        self.record_uploads([row])

    def record_uploads(self, rows: Sequence[Upload]) -> None:
        """Insert or replace each row by its key; a row another process inserted meanwhile is replaced."""
        for attempt in (1, 2):
            try:
                with self.session(write=True) as s:
                    for row in rows:
                        s.merge(row, load=True)
                return
            except IntegrityError:  # PostgreSQL: an insert raced another; the retry finds the row and updates it
                if attempt == 2:
                    raise

    # reviewers' notes
    def review_notes(self, film_id: str | None = None) -> list[ReviewNoteRow]:
        """Stored notes, oldest first (all films unless `film_id` is given)."""
        q = select(ReviewNoteRow).order_by(ReviewNoteRow.written_at, ReviewNoteRow.note_id)
        if film_id:
            q = q.where(ReviewNoteRow.film_id == film_id)
        with self.session() as s:
            return list(s.scalars(q))

    def add_review_notes(self, rows: Sequence[ReviewNoteRow]) -> list[str]:
        """Store the notes whose id is not stored yet, in one transaction; returns the ids added."""
        added: list[str] = []
        with self.session(write=True) as s:
            ids = [row.note_id for row in rows]
            stored = select(ReviewNoteRow.note_id).where(ReviewNoteRow.note_id.in_(ids))
            known = set(s.scalars(stored)) if ids else set()
            for row in rows:
                if row.note_id in known:
                    continue
                known.add(row.note_id)
                s.add(row)
                added.append(row.note_id)
        return added

    # cuts
    def cut_versions(self, film_id: str) -> list[CutVersionRow]:
        """Every stored version of a film's cut, oldest first."""
        with self.session() as s:
            q = select(CutVersionRow).where(CutVersionRow.film_id == film_id).order_by(CutVersionRow.version)
            return list(s.scalars(q))

    def current_cut(self, film_id: str) -> CutVersionRow | None:
        """The film's current cut (its highest version), or None before the first."""
        with self.session() as s:
            q = (select(CutVersionRow).where(CutVersionRow.film_id == film_id)
                 .order_by(CutVersionRow.version.desc()).limit(1))
            return s.scalar(q)

    def add_cut_version(self, row: CutVersionRow) -> CutVersionRow:
        """Store a new version; its number is the next after the film's highest (set here, in the transaction)."""
        with self.session(write=True) as s:
            last = s.scalar(select(CutVersionRow.version).where(CutVersionRow.film_id == row.film_id)
                            .order_by(CutVersionRow.version.desc()).limit(1))
            row.version = (last or 0) + 1
            s.add(row)
        return row
