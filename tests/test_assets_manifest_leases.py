"""The farm's leases on SQLite and PostgreSQL: one claimer per pair among 16, expiry hands a killed worker's pair to
another, a slow worker's late proxy is never recorded twice, and two planners split the stale set."""

from __future__ import annotations

import hashlib
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from postgres_support import PostgresCluster
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from assets_manifest.leases import Lease, Leases
from assets_manifest.ledger import Ledger
from assets_manifest.settings import LedgerSettings
from assets_manifest.store import Asset, Proxy, RenderLease, SourceSighting

PROFILE = "p" * 32


class Clock:
    """A clock the test moves by hand: expiry without waiting."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def ledger(tmp_path: Path, database_url: str | None) -> Iterator[Ledger]:
    led = Ledger.open(LedgerSettings(home=tmp_path / "home", database_url=database_url))
    yield led
    led.close()


def add_assets(ledger: Ledger, n: int) -> list[str]:
    ids = []
    for i in range(n):
        sha = hashlib.sha256(f"clip {i}".encode()).hexdigest()
        raw = f"/card/clip{i}.mov".encode()
        ledger.add_asset(Asset(asset_id=sha[:32], sha256=sha, xxh128=sha[:32], size=1, name=f"clip {i:03d}",
                               path=f"/library/clip{i}.mov", path_bytes=raw, kind="video", container="mov",
                               scene_id="S01", duration_frames=250, probe={}),
                         SourceSighting(path=raw.decode(), path_bytes=raw, size=1, mtime_ns=1))
        ids.append(sha[:32])
    return ids


def record_proxy(asset_id: str, path: str) -> Callable[[Session, str], None]:
    def record(s: Session, stored: str) -> None:
        Ledger.put_proxy(s, asset_id, PROFILE, state="done", proxy_path=Path(stored), poster_path=Path(path + ".jpg"))
    return record


def store(path: str, calls: list[str]) -> Callable[[], str]:
    def put() -> str:
        calls.append(path)
        return path
    return put


def test_sixteen_concurrent_claimers_claim_each_pair_exactly_once(ledger: Ledger) -> None:
    ids = add_assets(ledger, 40)
    leases = Leases(ledger)
    claimed: list[tuple[str, str]] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def claimer(n: int) -> None:
        order = ids[:]
        random.Random(n).shuffle(order)
        start.wait()
        for asset_id in order:
            if leases.claim(asset_id, PROFILE, f"worker-{n}", ttl_s=60) is not None:
                with lock:
                    claimed.append((asset_id, f"worker-{n}"))

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a for a, _ in claimed) == sorted(ids), "every pair claimed, none twice"
    holders = leases.states(ids, PROFILE)
    assert {a: holders[a].holder for a in ids} == dict(claimed)
    assert len({w for _, w in claimed}) > 1, "the claims were spread over several claimers"


def test_sixteen_claimers_taking_the_next_queued_pair_skip_locked_ones_and_never_share_one(ledger: Ledger) -> None:
    ids = add_assets(ledger, 48)
    leases = Leases(ledger)
    assert leases.reserve(ids, PROFILE, planner="plan", ttl_s=60) == ids
    claimed: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def claimer(n: int) -> None:
        start.wait()
        while (lease := leases.claim_next(PROFILE, f"worker-{n}", ttl_s=60, planner="plan")) is not None:
            with lock:
                claimed.append(lease.asset_id)

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)
    # Among a flow run's own assets only, and an expired lease is claimable again.
    later = Leases(ledger, lambda: datetime.now(UTC) + timedelta(minutes=5))
    again = later.claim_next(PROFILE, "w", ttl_s=60, asset_ids=[ids[7], ids[3]])
    assert again is not None and again.asset_id == min(ids[7], ids[3])


def test_a_lease_is_renewed_by_its_heartbeat_and_claimable_again_once_expired(ledger: Ledger) -> None:
    [asset_id] = add_assets(ledger, 1)
    clock = Clock()
    leases = Leases(ledger, clock)
    first = leases.claim(asset_id, PROFILE, "killed", ttl_s=30)
    assert first is not None
    clock.advance(20)
    assert leases.heartbeat(first, ttl_s=30)
    clock.advance(20)
    assert leases.claim(asset_id, PROFILE, "other", ttl_s=30) is None, "renewed: still held at 40 s"
    clock.advance(31)  # no heartbeat since: the worker was killed
    second = leases.claim(asset_id, PROFILE, "other", ttl_s=30)
    assert second is not None and second.token != first.token
    assert not leases.heartbeat(first, ttl_s=30), "the killed worker's lease is gone for good"
    assert leases.states([asset_id], PROFILE)[asset_id].attempts == 2


def test_a_slow_worker_outlived_by_its_lease_cannot_record_a_second_proxy(ledger: Ledger) -> None:
    a, b = add_assets(ledger, 2)
    clock = Clock()
    leases = Leases(ledger, clock)
    slow = leases.claim(a, PROFILE, "slow", ttl_s=30)
    assert slow is not None
    clock.advance(31)
    fast = leases.claim(a, PROFILE, "fast", ttl_s=30)
    assert fast is not None
    stored: list[str] = []
    assert leases.finish(fast, worker="fast", sha256="1" * 64, key="proxies/review/a.mp4",
                         store=store("/fast/a.mp4", stored), record=record_proxy(a, "/fast/a.mp4")) == "recorded"
    # The slow worker ends later with the same bytes (the render is deterministic) or with other bytes.
    assert leases.finish(slow, worker="slow", sha256="1" * 64, key="proxies/review/a.mp4",
                         store=store("/slow/a.mp4", stored), record=record_proxy(a, "/slow/a.mp4")) == "identical"
    assert leases.finish(slow, worker="slow", sha256="2" * 64, key="proxies/review/a.mp4",
                         store=store("/slow/a.mp4", stored), record=record_proxy(a, "/slow/a.mp4")) == "discarded"
    assert stored == ["/fast/a.mp4"], "the late finisher stored nothing over the kept proxy"
    with ledger.session() as s:
        proxies = s.scalars(select(Proxy).where(Proxy.asset_id == a)).all()
        assert [p.proxy_path for p in proxies] == ["/fast/a.mp4"], "exactly one proxy, the first finished"
        assert s.scalar(select(func.count()).select_from(RenderLease).where(RenderLease.asset_id == a)) == 1
    state = leases.of_asset(a, PROFILE)
    assert state is not None and (state.state, state.worker, state.proxy_key) == ("done", "fast",
                                                                                  "proxies/review/a.mp4")
    assert leases.claim(a, PROFILE, "late", ttl_s=30) is None, "a done pair is not claimed again"
    # A failed render gives the pair up; a planner may queue it again.
    lease = leases.claim(b, PROFILE, "w", ttl_s=30)
    assert isinstance(lease, Lease)
    leases.release(lease, failed=True)
    assert leases.claim(b, PROFILE, "w2", ttl_s=30) is None
    assert leases.reserve([b], PROFILE, planner="again", ttl_s=60) == [b]
    assert leases.claim(b, PROFILE, "w2", ttl_s=30) is not None


def test_two_planners_at_once_split_the_stale_set_and_a_dead_planners_share_returns(ledger: Ledger) -> None:
    ids = add_assets(ledger, 6)
    clock = Clock()
    leases = Leases(ledger, clock)
    assert [p.asset_id for p in leases.plan(PROFILE, planner="one")] == ids
    first = leases.reserve(ids[:4], PROFILE, planner="one", ttl_s=60)
    plan_two = [p.asset_id for p in leases.plan(PROFILE, planner="two")]
    assert plan_two == ids[4:], "the other planner's live reservations are not in its plan"
    assert leases.reserve(ids, PROFILE, planner="two", ttl_s=60) == ids[4:]
    assert first == ids[:4]
    # A worker takes one of planner one's pairs; planner one dies, its reservations lapse.
    assert leases.claim(ids[0], PROFILE, "w", ttl_s=600) is not None
    clock.advance(61)
    assert leases.renew_reservations("two", ttl_s=60) == 2
    assert [p.asset_id for p in leases.plan(PROFILE, planner="three")] == ids[1:4]
    # Done pairs leave the plan; `everything` brings them back.
    with ledger.session(write=True) as s:
        Ledger.put_proxy(s, ids[1], PROFILE, state="done")
    assert [p.asset_id for p in leases.plan(PROFILE, planner="three")] == ids[2:4]
    assert ids[1] in [p.asset_id for p in leases.plan(PROFILE, planner="three", everything=True)]
    counts = Counter(leases.states(ids, PROFILE)[a].state for a in ids)
    assert counts == Counter({"queued": 5, "leased": 1})


def test_a_claim_survives_its_pooled_connection_dropped_by_the_server(postgres_cluster: PostgresCluster) -> None:
    """Claims run on connections that are not pinged at checkout (one round trip a claim): one the server dropped
    (a restart, an idle timeout) is replaced and the claim tried once more. PostgreSQL only: SQLite has no server."""
    settings = LedgerSettings(database_url=postgres_cluster.new_database())
    Ledger.upgrade(settings)
    ledger = Ledger.open(settings)
    ids = add_assets(ledger, 2)
    leases = Leases(ledger)
    leases.reserve(ids, PROFILE, planner="plan", ttl_s=60)
    first = leases.claim_next(PROFILE, "w", ttl_s=60, planner="plan")
    assert first is not None and first.asset_id == min(ids)
    with ledger.engine.connect() as conn:  # the server ends every other session of this database
        dropped = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                    "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
    assert dropped, "the claim's pooled connection was there to drop"
    second = leases.claim_next(PROFILE, "w", ttl_s=60, planner="plan")
    assert second is not None and second.asset_id == max(ids)
    assert leases.claim_next(PROFILE, "w", ttl_s=60, planner="plan") is None
    ledger.close()
