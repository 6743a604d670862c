"""The render farm's work as plain functions (no Prefect here): a worker's leased renders, and the planner that
reserves the stale set, hands it out in flow runs, waits for it and puts lost work back into the plan.

Prefect stays in flows/docfilm_flows.py (its API calls in flows/farm_prefect.py), which passes the planner
two callables: `submit` (one flow run of the render-asset deployment for a list of assets) and `run_states`
(the state of the flow runs it submitted).
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

from assets_manifest.hashing import digest_file
from assets_manifest.leases import DONE, FAILED, LEASED, Lease, Leases, PlannedAsset
from assets_manifest.ledger import Ledger
from core.jsontypes import JsonObject

from .progress import RenderTally
from .results import FarmFacts, RenderedProxy, RenderFailure, RenderRun
from .steps import clip_timeout_s, proxy_source
from .workspace import Workspace

log = logging.getLogger(__name__)

FINAL_STATES = frozenset({"COMPLETED", "FAILED", "CRASHED", "CANCELLED"})
FLOW_STATES_SECONDS = 1.0  # the planner asks the Prefect API for its flow runs' states at most this often


# ------------------------------------------------------------------------------------------------ worker side
@dataclass(frozen=True)
class LeasedRender:
    """What a worker did with one asset of its flow run."""

    asset_id: str
    outcome: str  # recorded, identical, discarded, failed, held (another worker has it), done (already), missing
    worker: str
    key: str | None = None
    reason: str | None = None

    def to_json(self) -> JsonObject:
        return {"asset_id": self.asset_id, "outcome": self.outcome, "worker": self.worker, "key": self.key,
                "reason": self.reason}


class Heartbeat:
    """Renews a lease every third of its time in a thread, while the render runs."""

    def __init__(self, leases: Leases, lease: Lease, ttl_s: float) -> None:
        self.leases, self.lease, self.ttl_s = leases, lease, ttl_s
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease {lease.asset_id}", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.ttl_s / 3):
            try:
                if not self.leases.heartbeat(self.lease, self.ttl_s):
                    self.lost = True
                    log.warning("lease on %s lost (expired and taken by another worker)", self.lease.asset_id)
                    return
            except Exception as exc:  # the database blinked (e.g. restarted): try again at the next beat
                log.warning("lease heartbeat for %s failed: %s", self.lease.asset_id, exc)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def render_batch(ws: Workspace, client: Any, bucket: str, asset_ids: Sequence[str], worker: str,
                 ffmpeg_slot: Callable[[], Any] | None = None, planner: str | None = None) -> list[LeasedRender]:
    """A flow run's assets: claim the next claimable one (SKIP LOCKED), render it, until none is left to claim;
    the rest is done or held by other workers. Then, given its `planner`, the pairs that planner queued for
    other flow runs not started yet: a worker that is through with its own batch takes work from a busy one's
    queue instead of standing idle while the last batch runs alone."""
    leases = Leases(ws.ledger)
    profile_hash = ws.profile.profile_hash()
    ttl = ws.settings.farm.lease_seconds
    remaining = list(dict.fromkeys(asset_ids))
    done: list[LeasedRender] = []
    while remaining:
        lease = leases.claim_next(profile_hash, worker, ttl, asset_ids=remaining)
        if lease is None:  # a pair no planner queued (the deployment run by hand) has no row yet
            lease = next((got for a in remaining if (got := leases.claim(a, profile_hash, worker, ttl))), None)
        if lease is None:
            break
        remaining.remove(lease.asset_id)
        done.append(render_leased(ws, client, bucket, lease, worker, ffmpeg_slot))
    while planner is not None and (lease := leases.claim_next(profile_hash, worker, ttl, planner=planner)):
        done.append(render_leased(ws, client, bucket, lease, worker, ffmpeg_slot))
    for asset_id in remaining:
        state = leases.of_asset(asset_id, profile_hash)
        finished = state is not None and state.state == DONE
        done.append(LeasedRender(asset_id, "done" if finished else "held",
                                 (state.worker if state and finished else None) or worker,
                                 key=state.proxy_key if state else None))
    return done


def render_leased(ws: Workspace, client: Any, bucket: str, lease: Lease, worker: str,
                  ffmpeg_slot: Callable[[], Any] | None = None) -> LeasedRender:
    """Render one claimed asset under its renewed lease, store its proxy, poster and sheet in S3 and record them,
    once.

    A render that fails (a bad clip, a corrupt master) is recorded as failed and its lease given up; an error of
    the environment (S3, the database) propagates with the lease given back, so the planner puts the asset back
    into the plan.
    """
    from assets_manifest.errors import MasterUnavailable
    from delivery.keys import rendition_key
    from renders.errors import RenderError
    from renders.render import render_source

    from .masters_steps import local_master, store_renditions

    settings = ws.settings.farm
    leases = Leases(ws.ledger)
    profile = ws.profile
    profile_hash = profile.profile_hash()
    asset_id = lease.asset_id
    asset = ws.ledger.asset(asset_id)
    if asset is None:
        leases.release(lease, failed=True)
        return LeasedRender(asset_id, "missing", worker, reason="no such asset in the ledger")
    try:
        with Heartbeat(leases, lease, settings.lease_seconds), (ffmpeg_slot() if ffmpeg_slot else _no_slot()):
            master = local_master(ws, asset, (client, bucket))
            src = proxy_source(asset, Fraction(ws.film.film.fps), master)
            out_dir = ws.renders_dir
            out_dir.mkdir(parents=True, exist_ok=True)
            started = time.monotonic()
            result = render_source(src, profile, out_dir, ws.settings.renders, timeout_s=clip_timeout_s(asset))
    except (RenderError, MasterUnavailable) as exc:  # the clip itself (or its master) is bad: recorded, given up
        ws.ledger.record_proxy(asset_id, profile_hash, state=FAILED, reason=str(exc))
        leases.release(lease, failed=True)
        log.error("render of %s failed: %s", asset.name, exc)
        return LeasedRender(asset_id, FAILED, worker, reason=str(exc))
    except BaseException:
        _give_back(leases, lease)
        raise
    qc = replace(result.qc, render_seconds=round(time.monotonic() - started, 2))
    files = {"proxy": result.proxy, "poster": result.poster}
    if result.contact_sheet is not None:
        files["sheet"] = result.contact_sheet
    sha256 = digest_file(result.proxy).sha256
    key = rendition_key(profile_hash, asset_id, "proxy", result.proxy.suffix)

    def record(s: Any, stored: dict[str, tuple[str, str]]) -> None:
        Ledger.put_proxy(s, asset_id, profile_hash, state=DONE, proxy_path=result.proxy, poster_path=result.poster,
                         qc=qc, stored=stored)

    try:
        outcome = leases.finish(lease, worker=worker, sha256=sha256, key=key,
                                store=lambda: store_renditions(ws, asset, files, (client, bucket)), record=record)
    except BaseException:
        _give_back(leases, lease)
        raise
    if outcome == "discarded":
        log.warning("%s: another worker recorded a different proxy first; this one is discarded", asset.name)
    return LeasedRender(asset_id, outcome, worker, key=key)


@contextmanager
def _no_slot() -> Iterator[None]:
    yield


def _give_back(leases: Leases, lease: Lease) -> None:
    try:
        leases.release(lease, failed=False)
    except Exception as exc:  # the database is what failed: the lease expires by itself
        log.warning("could not give back the lease on %s: %s", lease.asset_id, exc)


# ----------------------------------------------------------------------------------------------- planner side
@dataclass
class Submission:
    """One flow run the planner submitted, for a list of assets."""

    run_id: Any
    asset_ids: list[str]
    alive_at: float
    retired: bool = False


@dataclass
class FarmRun:
    """The planner's books for one `render --farm`."""

    planner: str
    planned: dict[str, PlannedAsset]
    submissions: list[Submission] = field(default_factory=list)
    tries: dict[str, int] = field(default_factory=dict)
    gave_up: dict[str, str] = field(default_factory=dict)  # asset id → why no flow run could render it


def new_planner_id() -> str:
    return f"planner-{uuid.uuid4().hex[:12]}"


def batch_size(settings_batch: int, todo: Sequence[PlannedAsset], online_workers: int) -> int:
    """Assets per flow run: the setting, else an even share for each online worker, so that each worker starts
    one flow-run process (~3-5 s each) and no more. Flow runs take from each other's queue when through with
    their own (render_batch), so shares need not be balanced by length, and the work of a worker that dies is
    taken by the others or, once its lease expires, by a flow run submitted again."""
    if settings_batch:
        return settings_batch
    return max(1, math.ceil(len(todo) / max(1, online_workers)))


def run_farm(
    ws: Workspace,
    *,
    planner: str,
    everything: bool,
    scene: str | None,
    submit: Callable[[list[str]], Any],
    run_states: Callable[[list[Any]], dict[Any, tuple[str, str]]],
    online_workers: int,
    tally_factory: Callable[[list[PlannedAsset]], RenderTally] | None = None,
) -> RenderRun:
    """Plan, reserve, submit and wait; a local run's result, with `worker` and `key` on each item."""
    settings = ws.settings.farm
    leases = Leases(ws.ledger)
    profile_hash = ws.profile.profile_hash()
    started = time.monotonic()
    planned = leases.plan(profile_hash, planner=planner, everything=everything, scene=scene)
    reserve_ttl = max(settings.lease_seconds, 30.0)
    mine = set(leases.reserve([p.asset_id for p in planned], profile_hash, planner=planner, ttl_s=reserve_ttl,
                              everything=everything))
    todo = [p for p in planned if p.asset_id in mine]
    skipped = _up_to_date(ws.ledger, profile_hash, scene)
    elsewhere = len(planned) - len(todo)
    if not todo:
        return RenderRun(skipped=skipped, seconds=round(time.monotonic() - started, 3), farm=FarmFacts(elsewhere))
    run = FarmRun(planner, {p.asset_id: p for p in todo})
    batch = batch_size(settings.batch, todo, online_workers)
    tally = tally_factory(todo) if tally_factory else None
    _submit_all(run, [p.asset_id for p in todo], batch, submit)
    coordinating = time.monotonic() - started
    _wait(run, leases, profile_hash, settings, run_states, submit, batch, tally, reserve_ttl)
    rendered, failed = _report(ws, run, profile_hash)
    return RenderRun(rendered, skipped, failed, seconds=round(time.monotonic() - started, 3),
                     farm=FarmFacts(elsewhere, submitted_in=round(coordinating, 3), flow_runs=len(run.submissions)))


def _up_to_date(ledger: Ledger, profile_hash: str, scene: str | None) -> int:
    from sqlalchemy import func, select

    from assets_manifest.store import Asset as AssetRow
    from assets_manifest.store import Proxy

    q = (select(func.count()).select_from(Proxy).join(AssetRow, AssetRow.asset_id == Proxy.asset_id)
         .where(Proxy.profile_hash == profile_hash, Proxy.state == DONE))
    if scene:
        q = q.where(AssetRow.scene_id == scene)
    with ledger.session() as s:
        return int(s.scalar(q) or 0)


def _submit_all(run: FarmRun, asset_ids: list[str], batch: int, submit: Callable[[list[str]], Any]) -> None:
    for i in range(0, len(asset_ids), batch):
        chunk = asset_ids[i:i + batch]
        for a in chunk:
            run.tries[a] = run.tries.get(a, 0) + 1
        run.submissions.append(Submission(submit(chunk), chunk, time.monotonic()))


def _wait(run: FarmRun, leases: Leases, profile_hash: str, settings: Any,
          run_states: Callable[[list[Any]], dict[Any, tuple[str, str]]], submit: Callable[[list[str]], Any],
          batch: int, tally: RenderTally | None, reserve_ttl: float) -> None:
    """Poll leases and flow runs until every asset is done or given up; put lost work back into the plan.

    A flow run is over when Prefect says it ended (failed, crashed, completed) or when it has shown no sign of
    life for longer than a lease lasts (its worker was killed: Prefect still shows it running). An asset is lost
    when no flow run that is not over was given it and nobody holds a live lease on it: flow runs take each
    other's queued assets, so an asset may be rendered by another run than the one it was submitted with.
    """
    pending = set(run.planned)
    started_clips: set[str] = set()
    why_over: dict[str, str] = {}
    renewed = flows_read = time.monotonic()
    flows_every = max(FLOW_STATES_SECONDS, settings.poll_seconds)
    while pending:
        time.sleep(settings.poll_seconds)
        now_wall = datetime.now(UTC).replace(tzinfo=None)
        now = time.monotonic()
        if now - renewed > reserve_ttl / 3:
            leases.renew_reservations(run.planner, reserve_ttl)
            renewed = now
        states = leases.states(sorted(pending), profile_hash)
        for asset_id in sorted(pending):
            st = states.get(asset_id)
            if st is None:
                continue
            if st.state in (DONE, FAILED):
                pending.discard(asset_id)
                if tally is not None:
                    tally.clip_finished(asset_id, st.state == DONE)
            elif st.state == LEASED and st.live(now_wall) and asset_id not in started_clips and tally is not None:
                started_clips.add(asset_id)
                tally.clip_started(asset_id, run.planned[asset_id].name)
        if not pending:
            break
        if now - flows_read < flows_every:
            continue  # leases are read often (the run's end seen soon), Prefect's flow-run states once a second
        flows_read = now
        live = [s for s in run.submissions if not s.retired]
        flows = run_states([s.run_id for s in live]) if live else {}
        for sub in live:
            if not any(a in pending for a in sub.asset_ids):
                sub.retired = True
                continue
            state, message = flows.get(sub.run_id, ("SCHEDULED", ""))
            if any(states.get(a) and states[a].state == LEASED and states[a].live(now_wall)
                   and states[a].holder != run.planner for a in sub.asset_ids) or state in ("SCHEDULED", "PENDING"):
                sub.alive_at = now
            if state in FINAL_STATES or now - sub.alive_at > settings.lease_seconds + 2 * flows_every:
                sub.retired = True
                why = message or f"flow run {state.lower()}"
                if state not in FINAL_STATES:
                    why = f"its worker stopped renewing the lease for {settings.lease_seconds:.0f} s"
                for a in sub.asset_ids:
                    why_over[a] = why
        covered = {a for s in run.submissions if not s.retired for a in s.asset_ids}
        lost: list[str] = []
        for a in sorted(pending - covered):
            st = states.get(a)
            if st is not None and st.state == LEASED and st.live(now_wall) and st.holder != run.planner:
                continue  # another flow run took it from its queue and renders it now
            why = why_over.get(a, "its flow run ended without it")
            if run.tries.get(a, 0) >= settings.attempts:
                run.gave_up[a] = f"no flow run finished it in {settings.attempts} tries; last: {why}"
                pending.discard(a)
                if tally is not None:
                    tally.clip_finished(a, False)
            else:
                lost.append(a)
        if lost:
            log.warning("%d asset(s) back to the plan (%s)", len(lost), why_over.get(lost[0], "flow run over"))
            got = leases.reserve(lost, profile_hash, planner=run.planner, ttl_s=reserve_ttl)
            _submit_all(run, got, batch, submit)


def _report(
    ws: Workspace, run: FarmRun, profile_hash: str
) -> tuple[tuple[RenderedProxy, ...], tuple[RenderFailure, ...]]:
    leases = Leases(ws.ledger)
    ids = sorted(run.planned)
    states = leases.states(ids, profile_hash)
    proxies = ws.ledger.proxies(profile_hash)
    rendered: list[RenderedProxy] = []
    failed: list[RenderFailure] = []
    for asset_id in ids:
        name = run.planned[asset_id].name
        st = states.get(asset_id)
        p = proxies.get(asset_id)
        if st is not None and st.state == DONE and p is not None and p.state == DONE:
            qc: JsonObject = dict(p.qc or {})  # as the worker's ledger row stores it (QcRecord.to_json)
            sheet = qc.get("contact_sheet")
            rendered.append(RenderedProxy(asset_id, name, str(p.proxy_path), str(p.poster_path),
                                          sheet if isinstance(sheet, str) else None, qc, worker=st.worker,
                                          key=st.proxy_key))
        else:
            reason = run.gave_up.get(asset_id) or (p.reason if p is not None and p.reason else None)
            failed.append(RenderFailure(asset_id, name, reason or "not rendered"))
    return tuple(rendered), tuple(failed)
