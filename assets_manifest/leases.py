"""Leases on (asset, profile) pairs, so that a farm of workers renders each proxy once and loses none.

A planner (`render --farm`) reserves the stale pairs it submits (`queued`, renewed while it waits, so a second
planner at the same time takes the others). A worker claims a pair before rendering it (`leased`) and renews the
lease with a heartbeat; a worker killed mid-render stops renewing and its pair is claimable again once the lease
expires. Finishing is conditional: the first finished proxy of a pair is recorded, a later one of the same
content is the same proxy, and a later one of other content is discarded, so the ledger keeps exactly one.

On PostgreSQL rows are taken with `SELECT … FOR UPDATE SKIP LOCKED` (a pair another claimer is taking right now
is skipped, not waited for); on SQLite every writer holds the one write lock (BEGIN IMMEDIATE) instead.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Literal, TypeVar

from sqlalchemy import ColumnElement, Select, Update, and_, bindparam, exists, literal_column, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from .ledger import Ledger
from .store import WRITE, Asset, Proxy, RenderLease, utcnow

QUEUED, LEASED, DONE, FAILED = "queued", "leased", "done", "failed"
CHUNK = 1000  # pairs per statement: IN lists and multi-row inserts stay well under the drivers' limits

Finish = Literal["recorded", "identical", "discarded"]
T = TypeVar("T")


@dataclass(frozen=True)
class Lease:
    """A worker's claim on one pair; `token` tells its heartbeat from a later claim's."""

    asset_id: str
    profile_hash: str
    holder: str
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class PairState:
    """Where one pair stands, as a planner waiting on it reads it."""

    asset_id: str
    state: str
    holder: str
    expires_at: datetime
    attempts: int
    worker: str | None
    proxy_key: str | None

    def live(self, now: datetime) -> bool:
        return self.expires_at > now


@dataclass(frozen=True)
class PlannedAsset:
    """A stale asset as the farm's planner needs it: no ORM row, so 100,000 of them load in well under a second."""

    asset_id: str
    name: str
    scene_id: str | None
    duration_frames: int | None


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), CHUNK):
        yield items[i:i + CHUNK]


def _literal(state: str) -> ColumnElement[str]:
    """A state as a literal, not a bound parameter: the partial indexes of revision 0006 (WHERE state = '…') stay
    usable by a cached generic plan."""
    return literal_column(f"'{state}'")


def _claim_filter(queued: bool | None, by_ids: bool, by_planner: bool) -> list[ColumnElement[bool]]:
    """Which pairs a claim may take: queued (`queued`), leased with the lease expired (`queued=False`) or either
    (None), of the profile `p_profile`, among `p_ids` and/or held by the planner `p_planner`."""
    is_queued = RenderLease.state == _literal(QUEUED)
    expired = and_(RenderLease.state == _literal(LEASED), RenderLease.expires_at <= bindparam("p_now"))
    claimable = is_queued if queued else expired if queued is False else or_(is_queued, expired)
    where = [RenderLease.profile_hash == bindparam("p_profile"), claimable]
    if by_ids:
        where.append(RenderLease.asset_id.in_(bindparam("p_ids", expanding=True)))
    if by_planner:
        where.append(RenderLease.holder == bindparam("p_planner"))
    return where


@cache
def _claim_statement(queued: bool, by_ids: bool, by_planner: bool) -> Update:
    """One claim as one statement, built once per shape: building it anew cost more CPU than running it."""
    chosen = (
        select(RenderLease.asset_id)
        .where(*_claim_filter(queued, by_ids, by_planner))
        .order_by(RenderLease.asset_id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return (
        update(RenderLease)
        .where(RenderLease.profile_hash == bindparam("p_profile"), RenderLease.asset_id == chosen)
        .values(state=LEASED, holder=bindparam("p_worker"), token=bindparam("p_token"),
                expires_at=bindparam("p_expires"), updated_at=bindparam("p_now"), attempts=RenderLease.attempts + 1)
        .returning(RenderLease.asset_id)
    )


@cache
def _claimable_statement(by_ids: bool, by_planner: bool) -> Select[Any]:
    """Is any pair left to claim, locked or not."""
    return select(RenderLease.asset_id).where(*_claim_filter(None, by_ids, by_planner)).limit(1)


def _new_token() -> str:
    return secrets.token_hex(16)


class Leases:
    """The lease rows of one ledger; `clock` is the time source (UTC), replaceable in tests."""

    def __init__(self, ledger: Ledger, clock: Callable[[], datetime] = utcnow) -> None:
        self.ledger = ledger
        self.clock = clock

    def _now(self) -> datetime:
        """Naive UTC, as the ledger reads its moments back on every database."""
        moment = self.clock()
        return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment

    def _insert(self, s: Session, rows: list[dict[str, object]]) -> set[str]:
        """Insert the rows that are not there yet; the asset ids actually inserted (a racing insert loses)."""
        if not rows:
            return set()
        make = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
        stmt = make(RenderLease).values(rows).on_conflict_do_nothing().returning(RenderLease.asset_id)
        return set(s.scalars(stmt))

    # planners
    def plan(self, profile_hash: str, *, planner: str, everything: bool = False, scene: str | None = None,
             kinds: Iterable[str] = ("video", "audio", "still")) -> list[PlannedAsset]:
        """The stale pairs in one query: no finished proxy (or `everything`), nobody else holding a live lease
        or reservation on them, and the master not quarantined (until it is ingested again).

        Core on a plain connection, four columns, no ORM row (the ORM's per-row work was half the time at 100,000
        assets); two anti-joins (NOT EXISTS), which PostgreSQL runs as hash anti-joins, the live leases found by
        the partial indexes of revision 0006 however many finished pairs the table holds.
        """
        now = self._now()
        assets, proxies, leases = Asset.__table__, Proxy.__table__, RenderLease.__table__
        held = (
            exists()
            .where(leases.c.asset_id == assets.c.asset_id, leases.c.profile_hash == profile_hash,
                   leases.c.holder != planner, leases.c.expires_at > now,
                   or_(leases.c.state == _literal(QUEUED), leases.c.state == _literal(LEASED)))
        )
        q = (
            select(assets.c.asset_id, assets.c.name, assets.c.scene_id, assets.c.duration_frames)
            .where(assets.c.kind.in_(tuple(kinds)), assets.c.master_quarantine.is_(None), ~held)
            .order_by(assets.c.scene_id.nulls_last(), assets.c.name, assets.c.asset_id)
        )
        if not everything:
            q = q.where(~exists().where(proxies.c.asset_id == assets.c.asset_id,
                                        proxies.c.profile_hash == profile_hash, proxies.c.state == _literal(DONE)))
        if scene:
            q = q.where(assets.c.scene_id == scene)
        with self.ledger.engine.connect() as conn:
            return [PlannedAsset(*row) for row in conn.execute(q)]

    def reserve(self, asset_ids: Sequence[str], profile_hash: str, *, planner: str, ttl_s: float,
                everything: bool = False) -> list[str]:
        """Take the pairs this planner will submit; returns those it got, in the order given.

        A pair is left to others while another planner's reservation or a worker's lease on it is live, and when
        its proxy is done (unless `everything`). Reserving again what this planner holds renews it.
        """
        got: set[str] = set()
        expires = self._now() + timedelta(seconds=ttl_s)
        for chunk in _chunks(list(asset_ids)):
            with self.ledger.session(write=True) as s:
                now = self._now()
                rows = s.scalars(
                    select(RenderLease)
                    .where(RenderLease.profile_hash == profile_hash, RenderLease.asset_id.in_(chunk))
                    .with_for_update(skip_locked=True)
                ).all()
                seen = {r.asset_id for r in rows}
                for r in rows:
                    busy = r.state in (QUEUED, LEASED) and r.expires_at > now and r.holder != planner
                    if busy or (r.state == DONE and not everything):
                        continue
                    r.state, r.holder, r.token, r.expires_at, r.updated_at = QUEUED, planner, _new_token(), expires, now
                    got.add(r.asset_id)
                # Pairs locked by another claimer right now were skipped above and conflict here: not ours.
                fresh = [{"asset_id": a, "profile_hash": profile_hash, "state": QUEUED, "holder": planner,
                          "token": _new_token(), "expires_at": expires, "attempts": 0, "updated_at": now}
                         for a in chunk if a not in seen]
                got |= self._insert(s, fresh)
        return [a for a in asset_ids if a in got]

    def renew_reservations(self, planner: str, ttl_s: float) -> int:
        """Keep this planner's queued pairs reserved for `ttl_s` more (its heartbeat while it waits)."""
        with self.ledger.session(write=True) as s:
            done = s.execute(
                update(RenderLease).where(RenderLease.holder == planner, RenderLease.state == _literal(QUEUED))
                .values(expires_at=self._now() + timedelta(seconds=ttl_s))
            )
            return int(done.rowcount or 0)  # type: ignore[attr-defined]

    def states(self, asset_ids: Sequence[str], profile_hash: str) -> dict[str, PairState]:
        out: dict[str, PairState] = {}
        with self.ledger.session() as s:
            for chunk in _chunks(list(asset_ids)):
                for r in s.scalars(select(RenderLease).where(RenderLease.profile_hash == profile_hash,
                                                             RenderLease.asset_id.in_(chunk))):
                    out[r.asset_id] = PairState(r.asset_id, r.state, r.holder, r.expires_at, r.attempts, r.worker,
                                                r.proxy_key)
        return out

    # workers
    def claim(self, asset_id: str, profile_hash: str, worker: str, ttl_s: float) -> Lease | None:
        """Lease a pair to `worker` for `ttl_s`; None when it is done or another live lease holds it."""
        with self.ledger.session(write=True) as s:
            now = self._now()
            expires = now + timedelta(seconds=ttl_s)
            token = _new_token()
            row = s.scalar(
                select(RenderLease)
                .where(RenderLease.asset_id == asset_id, RenderLease.profile_hash == profile_hash)
                .with_for_update(skip_locked=True)
            )
            if row is None:
                # No row, or one another claimer holds locked right now (then the insert conflicts: not ours).
                fresh = {"asset_id": asset_id, "profile_hash": profile_hash, "state": LEASED, "holder": worker,
                         "token": token, "expires_at": expires, "attempts": 1, "updated_at": now}
                if not self._insert(s, [fresh]):
                    return None
                return Lease(asset_id, profile_hash, worker, token, expires)
            if row.state == LEASED and row.expires_at > now:
                return None
            if row.state not in (QUEUED, LEASED):  # done, or failed until a planner queues it again
                return None
            row.state, row.holder, row.token, row.expires_at, row.updated_at = LEASED, worker, token, expires, now
            row.attempts += 1
            return Lease(asset_id, profile_hash, worker, token, expires)

    def claim_next(self, profile_hash: str, worker: str, ttl_s: float, *, asset_ids: Sequence[str] | None = None,
                   planner: str | None = None) -> Lease | None:
        """Lease the next claimable pair (queued, or its lease expired) among `asset_ids` and/or those `planner`
        queued; None when none is left.

        One claim is one statement, `UPDATE … WHERE asset_id = (SELECT … LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING …`. On PostgreSQL it runs on its own (autocommit) on a pooled connection that is not pinged,
        so a claim is one round trip; concurrent claimers never wait on each other nor get the same pair, and
        the queued pairs are found by the partial index ix_render_leases_queued (revision 0006) instead of a
        walk past the pairs already taken. Expired leases are looked for only when no queued pair is left.
        SQLite's one writer serialises claimers instead.
        """
        now = self._now()
        token = _new_token()
        expires = now + timedelta(seconds=ttl_s)
        params: dict[str, object] = {"p_profile": profile_hash, "p_now": now, "p_worker": worker, "p_token": token,
                                     "p_expires": expires}
        if asset_ids is not None:
            params["p_ids"] = list(asset_ids)
        if planner is not None:
            params["p_planner"] = planner
        shape = (asset_ids is not None, planner is not None)
        while True:
            for queued in (True, False):
                asset_id = self._execute_claim(_claim_statement(queued, *shape), params)
                if asset_id is not None:
                    return Lease(asset_id, profile_hash, worker, token, expires)
            # Nothing picked: none left, or every claimable pair was locked by another claimer at that instant.
            with self.ledger.engine.connect() as conn:
                if conn.execute(_claimable_statement(*shape), params).first() is None:
                    return None

    def _execute_claim(self, stmt: Update, params: dict[str, object]) -> str | None:
        if self.ledger.engine.dialect.name == "sqlite":
            with self.ledger.engine.execution_options(**WRITE).begin() as conn:
                return conn.execute(stmt, params).scalar()
        for attempt in (1, 2):
            try:
                with self.ledger.autocommit_engine.connect() as conn:
                    return conn.execute(stmt, params).scalar()
            except DBAPIError as exc:
                # Not pinged: a connection the server dropped (e.g. it restarted) fails once, and SQLAlchemy then
                # replaces every pooled connection as old as it. A claim whose answer was lost with the
                # connection holds its pair until the lease expires, like a killed worker.
                if not exc.connection_invalidated or attempt == 2:
                    raise
        return None

    def heartbeat(self, lease: Lease, ttl_s: float) -> bool:
        """Renew a lease; False when it was lost (expired and claimed by another, or finished)."""
        with self.ledger.session(write=True) as s:
            done = s.execute(
                update(RenderLease)
                .where(RenderLease.asset_id == lease.asset_id, RenderLease.profile_hash == lease.profile_hash,
                       RenderLease.token == lease.token, RenderLease.state == LEASED)
                .values(expires_at=self._now() + timedelta(seconds=ttl_s))
            )
            return bool(done.rowcount)  # type: ignore[attr-defined]

    def release(self, lease: Lease, *, failed: bool) -> None:
        """Give a pair back: `failed` (the clip cannot be rendered) or queued again at once (e.g. S3 unreachable)."""
        with self.ledger.session(write=True) as s:
            s.execute(
                update(RenderLease)
                .where(RenderLease.asset_id == lease.asset_id, RenderLease.profile_hash == lease.profile_hash,
                       RenderLease.token == lease.token, RenderLease.state == LEASED)
                .values(state=FAILED if failed else QUEUED, expires_at=self._now(), updated_at=self._now())
            )

    def finish(self, lease: Lease, *, worker: str, sha256: str, key: str, store: Callable[[], T],
               record: Callable[[Session, T], None]) -> Finish:
        """Record a finished proxy unless the pair already has one: the first finished proxy is the one kept.

        `store` puts the files where they are kept (S3) and `record` writes the proxy row with what `store`
        returned; neither is called when the pair is done already, and the answer says whether that proxy has
        the same content ("identical") or not ("discarded"). On PostgreSQL both run while this transaction
        holds the pair's row, so a second finisher waits and then finds it done. On SQLite (one machine) the
        one write lock cannot be held while `store` writes its own rows: the pair is checked before storing and
        again when recording, and the later of two finishers inside that window is discarded.
        """
        server = self.ledger.engine.dialect.name != "sqlite"
        if not server:
            done = self._done(lease)
            if done is not None:
                return "identical" if done == sha256 else "discarded"
            stored = store()
        with self.ledger.session(write=True) as s:
            row = s.scalar(
                select(RenderLease)
                .where(RenderLease.asset_id == lease.asset_id, RenderLease.profile_hash == lease.profile_hash)
                .with_for_update()
            )
            if row is not None and row.state == DONE:
                return "identical" if row.proxy_sha256 == sha256 else "discarded"
            if server:
                stored = store()
            record(s, stored)
            now = self._now()
            if row is None:
                row = RenderLease(asset_id=lease.asset_id, profile_hash=lease.profile_hash, attempts=1)
                s.add(row)
            row.state, row.holder, row.token, row.expires_at, row.updated_at = DONE, worker, lease.token, now, now
            row.worker, row.proxy_key, row.proxy_sha256 = worker, key, sha256
            return "recorded"

    def _done(self, lease: Lease) -> str | None:
        """The recorded proxy's SHA-256 when the pair is done (else None)."""
        with self.ledger.session() as s:
            row = s.get(RenderLease, (lease.asset_id, lease.profile_hash))
            return (row.proxy_sha256 or "") if row is not None and row.state == DONE else None

    def of_asset(self, asset_id: str, profile_hash: str) -> PairState | None:
        return self.states([asset_id], profile_hash).get(asset_id)
