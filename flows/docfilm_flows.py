"""Prefect flows: ingest, render, upload, packet, facts import and check, the farm's, and the pipeline chaining
them; the cut's flows (assemble, import, render) are in flows/cut_flows.py and gathered here.

This module's name cannot collide with a domain package: Prefect imports flow files with their own
folder first on sys.path.
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import ExitStack
from datetime import date
from fractions import Fraction
from pathlib import Path
from typing import Any, cast
from uuid import UUID

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed
from prefect.task_runners import ThreadPoolTaskRunner

from assets_manifest.report import FailedItem, IngestReport
from delivery.records import UploadResult
from figures.importer import ImportResult
from flows import steps, steps_facts
from flows.cut_flows import cut_assemble_flow, cut_import_flow, cut_render_flow, cut_stage
from flows.flow_support import md_escape, workspace
from flows.progress import RenderTally, ingest_ended, ingest_file_started, stage_finished
from flows.results import (
    FactsSummary,
    FarmBatch,
    IngestRun,
    PacketRun,
    PipelineRun,
    PublishedPacket,
    RenderRun,
    UploadFailure,
    UploadRun,
)
from flows.workspace import Workspace

log = logging.getLogger(__name__)

# Every flow, the cut's included (flows/cut_flows.py): the CLI and the pipeline take them from here.
__all__ = [
    "cut_assemble_flow",
    "cut_import_flow",
    "cut_render_flow",
    "default_jobs",
    "facts_check_flow",
    "facts_import_flow",
    "ingest_flow",
    "nightly_render_flow",
    "packet_flow",
    "pipeline_flow",
    "render_asset_flow",
    "render_farm_flow",
    "render_flow",
    "upload_flow",
]


def default_jobs() -> int:
    """Parallel renders: ffmpeg's x264 and decoders use several threads each, so half the cores, at least 1."""
    return max(1, (os.cpu_count() or 2) // 2)


@task(name="ingest-sources", cache_policy=NO_CACHE)
def ingest_sources(sources: list[str], scene: str | None, ws: Workspace, in_place: bool = False) -> IngestReport:
    from assets_manifest.ingest import ingest

    library = None if in_place else ws.settings.ledger.library_dir()
    report = ingest([Path(s) for s in sources], ws.ledger, scene_ids=ws.scene_ids(), shot_ids=ws.shot_ids(),
                    scene=scene, exclude=[ws.home], library=library, on_file=ingest_file_started,
                    film_rate=Fraction(ws.film.film.fps), part_hashing=ws.settings.s3.master_part_hashing)
    ingest_ended()
    return report


@flow(name="ingest", log_prints=False)
def ingest_flow(
    sources: list[str], scene: str | None = None, film: str | None = None, in_place: bool = False
) -> IngestRun:
    """Verified offload of files and folders into the library (or in place); quarantine what cannot be read."""
    ws = workspace(film)
    report = ingest_sources(sources, scene, ws, in_place)
    masters = store_masters_task(report, ws) if ws.settings.s3.library_s3 else None
    rows = [{"file": Path(x.path).name, "result": "ingested", "scene": x.scene or "", "asset": x.asset_id}
            for x in report.ingested]
    rows += [{"file": Path(d.path).name, "result": "already in the library", "scene": "", "asset": d.asset_id}
             for d in report.duplicates]
    rows += [{"file": Path(q.path).name, "result": "quarantined: " + q.reason, "scene": "", "asset": ""}
             for q in report.quarantined]
    rows += [{"file": Path(f.path).name, "result": "failed: " + f.reason, "scene": "", "asset": ""}
             for f in report.failed]
    create_table_artifact(
        key="ingest-report", table=rows or [{"file": "", "result": "no files", "scene": "", "asset": ""}],
        description=f"Ingest: {len(report.ingested)} new, {len(report.duplicates)} already in the library, "
        f"{len(report.quarantined)} quarantined, {len(report.failed)} failed",
    )
    if masters is None:
        return IngestRun(report)
    stored, failed = masters
    return IngestRun(report, tuple(stored)).with_failures(
        tuple(FailedItem(asset.path, f"master not stored in S3: {reason}") for asset, reason in failed))


@task(name="store-masters", cache_policy=NO_CACHE)
def store_masters_task(report: IngestReport, ws: Workspace) -> tuple[list[Any], list[tuple[Any, str]]]:
    """DOCFILM_LIBRARY_S3=on: every ingested master (new, or a duplicate not yet stored) into S3 as masters/<sha256>."""
    from flows.masters_steps import store_masters

    ids = [x.asset_id for x in report.ingested] + [d.asset_id for d in report.duplicates]
    return store_masters(ws, ids)


@task(name="render-proxy", task_run_name="proxy {asset_id}", cache_policy=NO_CACHE)
def render_proxy_task(
    asset_id: str, ws: Workspace, asset: Any, tally: RenderTally | None = None, store: Any = None
) -> steps.RenderOutcome:
    if tally is not None:
        tally.clip_started(asset_id, asset.name)
    progress = (lambda frames: tally.advance(asset_id, frames)) if tally is not None else None
    result = steps.render_asset(ws, asset, on_progress=progress, store=store)
    if tally is not None:
        tally.clip_finished(asset_id, not result.failed)
    if result.failed:
        get_run_logger().error("%s: %s", asset.name, result.reason)
    return result


def _progress_publisher(todo: list[Any]) -> Any:
    """A callback moving the run's Prefect progress artifact; a failed update never fails a render."""
    artifact_id = cast(UUID, create_progress_artifact(
        0.0, key="render-progress", description=f"Rendering {len(todo)} clip(s) / Đang dựng {len(todo)} đoạn"
    ))

    def publish(percent: float) -> None:
        try:
            update_progress_artifact(artifact_id, min(100.0, percent))
        except Exception as exc:  # progress is a courtesy; the renders matter
            log.warning("could not update the render progress artifact: %s", exc)

    return publish


@flow(name="render", log_prints=False)
def render_flow(
    everything: bool = False, scene: str | None = None, jobs: int | None = None, film: str | None = None
) -> Any:
    """Render the review proxies that are stale (or all of them); one failed clip never stops the others.

    The result's `seconds` is the wall time of the flow's own work (plan, renders, report), without the
    process's and Prefect's start.
    """
    started = time.monotonic()
    ws = workspace(film)
    todo, skipped = steps.render_plan(ws, everything=everything, scene=scene)
    if not todo:
        summary = RenderRun(skipped=skipped)
        create_markdown_artifact(key="render-report", markdown=f"Nothing stale: {skipped} proxies up to date.")
        return Completed(name="SKIPPED", message=f"nothing stale; {skipped} proxies up to date", data=summary)
    tally = RenderTally({a.asset_id: a.duration_frames or 1 for a in todo}, _progress_publisher(todo))
    runner: ThreadPoolTaskRunner[Any] = ThreadPoolTaskRunner(max_workers=jobs or default_jobs())
    with runner, ExitStack() as stack:
        # One S3 client for every clip when masters and proxies live in S3 (boto3 clients are thread-safe).
        # (delivery.store imports boto3, ~0.4 s of CPU before the first clip starts: only when it is used.)
        store = None
        if ws.settings.s3.library_s3:
            from delivery.store import open_store

            store = stack.enter_context(open_store(ws.settings.s3))
        futures = [runner.submit(render_proxy_task, parameters={"asset_id": a.asset_id, "ws": ws, "asset": a,
                                                                "tally": tally, "store": store})
                   for a in todo]
        results: list[steps.RenderOutcome] = [f.result() for f in futures]
    rendered = tuple(r.rendered() for r in results if not r.failed)
    failed = tuple(r.failure() for r in results if r.failed)
    rows = [{"clip": r.name, "result": "rendered", "detail": r.proxy.name if r.proxy else ""} for r in results
            if not r.failed]
    rows += [{"clip": r.name, "result": "failed", "detail": (r.reason or "")[-300:]} for r in results if r.failed]
    create_table_artifact(key="render-report", table=rows,
                          description=f"Render: {len(rendered)} rendered, {skipped} up to date, {len(failed)} failed")
    return RenderRun(rendered, skipped, failed, seconds=round(time.monotonic() - started, 3))


@flow(name="upload", log_prints=False)
def upload_flow(film: str | None = None) -> UploadRun:
    """Deliver proxies and posters to S3 with server-verified SHA-256; what is already there is skipped."""
    from delivery.store import open_store

    ws = workspace(film)
    items = steps.upload_plan(ws)
    uploaded: list[UploadResult] = []
    failed: list[UploadFailure] = []
    skipped = 0
    with open_store(ws.settings.s3) as (client, bucket):
        endpoint = client.meta.endpoint_url
        for item in items:
            try:
                res = upload_object_task(ws, client, bucket, endpoint, item)
            except Exception as exc:  # reported per object; the others go on
                failed.append(UploadFailure(item.key, str(exc)))
                continue
            if res.skipped:
                skipped += 1
            else:
                uploaded.append(res)
    create_markdown_artifact(
        key="upload-report",
        markdown=f"Upload: {len(uploaded)} uploaded, {skipped} already verified in S3, {len(failed)} failed\n\n"
        + "\n".join(f"- `{md_escape(u.key)}` {u.bytes} bytes" for u in uploaded[:200]),
    )
    return UploadRun(tuple(uploaded), skipped, tuple(failed))


@task(name="upload-object", task_run_name="upload {item.key}", cache_policy=NO_CACHE, retries=2,
      retry_delay_seconds=2,
      retry_condition_fn=lambda task, run, state: _transient(state))
def upload_object_task(
    ws: Workspace, client: Any, bucket: str, endpoint: str, item: steps.UploadItem
) -> UploadResult:
    return steps.upload_item(ws, client, bucket, endpoint, item)


def _transient(state: Any) -> bool:
    """Retry connection trouble and throttling only (delivery's own rule); a checksum mismatch stays a failure."""
    try:
        state.result()
    except Exception as exc:
        from delivery.retry import is_transient

        return is_transient(exc)
    return False


@task(name="publish-packet", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2,
      retry_condition_fn=lambda task, run, state: _transient(state))
def publish_packet_task(ws: Workspace, client: Any, bucket: str, result: Any, linked: Any = ()) -> PublishedPacket:
    from flows.review_steps import publish_packet

    return publish_packet(ws, client, bucket, result, linked)


@flow(name="packet", log_prints=False)
def packet_flow(as_of: date | None = None, film: str | None = None, hosted: bool | None = None) -> PacketRun:
    """Build the offline review packet (folder + zip) and publish its hosted copy to S3.

    The hosted copy (index.html beside the media in S3, every link presigned) is made when `hosted` (default:
    DOCFILM_PACKET_HOSTED, on) and the object store answers; otherwise the offline packet is still built and
    the reason is returned as `hosted_error`.
    """
    from delivery.errors import S3Unreachable
    from flows.review_steps import hosted_links, packet_cut, packet_figures, review_notes, stored_renditions
    from review.packet import build_packet

    ws = workspace(film)
    as_of = as_of or date.today()
    settings = ws.settings.review
    clips, notes = steps.clip_records(ws), review_notes(ws)
    out_root = settings.packet_root()
    figures = packet_figures(ws, as_of)
    cut = packet_cut(ws)
    result = None
    published = PublishedPacket(url=None, expires=None)
    hosted_error = None
    if settings.packet_hosted if hosted is None else hosted:
        from delivery.store import open_store

        s3 = ws.settings.s3
        try:
            with open_store(s3) as (client, bucket):
                stored = stored_renditions(ws)  # proxies/ objects render workers stored: linked, not copied
                links = hosted_links(client, bucket, ws.film.film.id, s3.presign_expiry_seconds, stored=stored)
                result = build_packet(ws.film, clips, out_root, as_of, notes=notes, hosted=links, figures=figures,
                                      cut=cut)
                published = publish_packet_task(ws, client, bucket, result, set(stored))
        except S3Unreachable as exc:
            hosted_error = str(exc)
            get_run_logger().error("hosted packet not published: %s", exc)
        if published.failed and hosted_error is None:
            hosted_error = f"{len(published.failed)} object(s) not uploaded: {published.failed[0].reason}"
    if result is None:
        result = build_packet(ws.film, clips, out_root, as_of, notes=notes, figures=figures, cut=cut)
    create_markdown_artifact(
        key="review-packet",
        markdown=f"Review packet {result.packet_id} as of {as_of.isoformat()}: {result.scenes} scenes, "
        f"{result.assets} clips, {len(notes)} reviewer notes, {result.changes} changes since the last packet\n\n"
        f"- folder: `{result.folder}`\n- zip: `{result.zip}`\n- open: `{result.path}`\n"
        # The presigned link itself stays out of Prefect's database: it grants access until it expires.
        + (f"- hosted: `packets/{ws.film.film.id}/index.html` until {published.expires}\n"
           if published.url else "")
        + (f"- hosted copy NOT published: {md_escape(hosted_error)}\n" if hosted_error else ""),
    )
    return PacketRun(path=str(result.path), zip=str(result.zip), scenes=result.scenes, assets=result.assets,
                     as_of=as_of.isoformat(), packet_id=result.packet_id, manifest=str(result.manifest),
                     changes=result.changes, notes=len(notes), hosted_url=published.url, expires=published.expires,
                     hosted_uploaded=len(published.uploaded), hosted_skipped=published.skipped,
                     hosted_error=hosted_error)


@flow(name="facts-import", log_prints=False)
def facts_import_flow(
    file: str,
    sheet: str | None = None,
    source: str | None = None,
    url: str | None = None,
    received: date | None = None,
    film: str | None = None,
) -> ImportResult:
    """Import a statistics table's figures as facts beside the film; the artifact lists the changed figures.

    A table that cannot be read fails the run (the film's facts file is then left as it was).
    """
    ws = workspace(film)
    result = steps_facts.import_facts(Path(file), ws.film_file, sheet=sheet, source=source, url=url,
                                      received=received)
    create_table_artifact(
        key="facts-import", table=steps_facts.import_rows(result),
        description=f"Facts: {result.imported} imported from {md_escape(Path(file).name)}"
        + (f" (sheet {md_escape(result.sheet)})" if result.sheet else "")
        + f", {len(result.changed)} changed → {md_escape(result.facts_file.name)}",
    )
    return result


@flow(name="facts-check", log_prints=False)
def facts_check_flow(as_of: date | None = None, film: str | None = None) -> FactsSummary:
    """Check every figure the film states against its facts; the artifact lists those that are not sourced.

    A figure that is not sourced does not fail the run: the result's counts (and the artifact) say it.
    """
    ws = workspace(film)
    report = steps_facts.check_film(ws.film_file, as_of=as_of, home=ws.home)
    summary = steps_facts.check_summary(report)
    if report.not_sourced:
        counts = ", ".join(f"{n} {result}" for result, n in report.counts.items() if n and result != "sourced")
        create_table_artifact(key="facts-check", table=steps_facts.check_rows(report),
                              description=f"Figures: {len(report.not_sourced)} of {len(report.figures)} "
                              f"not sourced ({counts})")
        get_run_logger().warning("%d of %d figure(s) not sourced: %s", len(report.not_sourced),
                                 len(report.figures), counts)
    else:
        create_markdown_artifact(key="facts-check",
                                 markdown=f"All {len(report.figures)} figures are sourced.")
    return summary


@flow(name="pipeline", log_prints=False)
def pipeline_flow(
    sources: list[str],
    scene: str | None = None,
    jobs: int | None = None,
    as_of: date | None = None,
    film: str | None = None,
    assemble_cut: bool = False,
) -> PipelineRun:
    """Ingest → render → review cut → upload → packet, then the figures' check, as one flow run.

    The review cut of the current cut is rendered only when stale (`assemble_cut`: first make the string-out the
    current cut, as the demo does). Figures that are not sourced are a warning here (`facts` in the result, and
    the check's artifact): the packet, which shows them, is still built.
    """
    from delivery.store import store_kept_up
    from flows.settings import DocfilmSettings

    # One embedded S3 for the stages that use it (masters, upload, the hosted packet), started beside ingest.
    with store_kept_up(DocfilmSettings.load().s3):
        ingested = ingest_flow(sources, scene=scene, film=film)
        stage_finished("ingest", ingested)
        rendered = cast(RenderRun, render_flow(jobs=jobs, film=film))
        stage_finished("render", rendered)
        if assemble_cut:
            cut_assemble_flow(film=film)
        cut = cut_stage(film)
        stage_finished("cut", cut)
        uploaded = upload_flow(film=film)
        stage_finished("upload", uploaded)
        packet = packet_flow(as_of=as_of, film=film)
        stage_finished("packet", packet)
    facts = facts_check_flow(as_of=as_of, film=film)
    return PipelineRun(render=rendered, cut=cut, upload=uploaded, packet=packet, facts=facts, ingest=ingested)


@flow(name="render-asset", log_prints=False)
def render_asset_flow(asset_ids: list[str], film: str | None = None, planner: str | None = None) -> FarmBatch:
    """On a farm worker: render these assets one after the other, each under a lease, proxies straight to S3;
    then, given the `planner` that submitted them, what that planner queued for flow runs not started yet.

    A worker that cannot reach S3 or the database fails the run with "exit 3" in its log; the planner waiting
    on it gives its assets to another flow run. ffmpeg renders on this host are capped by the Prefect
    concurrency limit `ffmpeg-<host>` when one exists (`farm local` makes it), else by the worker's --limit.
    """
    from core.errors import EnvironmentProblem
    from delivery.store import open_store
    from farm.settings import host_limit_name
    from flows.farm_prefect import host_slot
    from flows.farm_steps import render_batch

    logger = get_run_logger()
    try:
        ws = workspace(film)
        worker = ws.settings.farm.worker_name()
        ws.ledger  # noqa: B018  (reach the database before taking any work)
        slot = host_slot(host_limit_name())
        with open_store(ws.settings.s3) as (client, bucket):
            done = render_batch(ws, client, bucket, asset_ids, worker, ffmpeg_slot=slot, planner=planner)
    except EnvironmentProblem as exc:
        logger.error("exit %d: %s", exc.exit_code, exc)
        raise
    for item in done:
        if item.outcome == "failed":
            logger.error("%s: %s", item.asset_id, item.reason)
    return FarmBatch(worker, tuple(done))


@flow(name="render-farm", log_prints=False)
def render_farm_flow(everything: bool = False, scene: str | None = None, film: str | None = None) -> Any:
    """Render what is stale on the farm: plan in one query, submit render-asset flow runs in batches, wait.

    The result is a local render's, plus `worker` and `key` (the proxy's S3 key) on each rendered item.
    """
    from flows.farm_prefect import farm_deployment, flow_run_states
    from flows.farm_steps import new_planner_id, run_farm

    ws = workspace(film)
    settings = ws.settings.farm
    planner = new_planner_id()
    deployment_id, online = farm_deployment(settings.deployment, settings.pool)

    def submit(asset_ids: list[str]) -> UUID:
        from prefect.deployments import run_deployment

        flow_run: Any = run_deployment(deployment_id, parameters={"asset_ids": asset_ids, "film": film,
                                                               "planner": planner},
                                       timeout=0, tags=["docfilm", planner])
        return flow_run.id

    def tally_factory(todo: list[Any]) -> RenderTally:
        return RenderTally({a.asset_id: a.duration_frames or 1 for a in todo}, _progress_publisher(todo))

    result = run_farm(ws, planner=planner, everything=everything, scene=scene, submit=submit,
                      run_states=flow_run_states, online_workers=online, tally_factory=tally_factory)
    rows = [{"clip": r.name, "result": "rendered", "detail": f"{r.worker}: {r.key}"} for r in result.rendered]
    rows += [{"clip": r.name, "result": "failed", "detail": (r.reason or "")[-300:]} for r in result.failed]
    create_table_artifact(key="render-report", table=rows or [{"clip": "", "result": "nothing stale", "detail": ""}],
                          description=f"Farm render: {len(result.rendered)} rendered, {result.skipped} up to "
                          f"date, {len(result.failed)} failed")
    if not rows:
        return Completed(name="SKIPPED", message=f"nothing stale; {result.skipped} proxies up to date",
                         data=result)
    return result


@flow(name="nightly-render", log_prints=False)
def nightly_render_flow(jobs: int | None = None, film: str | None = None, farm: bool = False) -> PipelineRun:
    """The scheduled night run: render what is stale (on the farm when `farm`; proxies, then the review cut),
    deliver it, rebuild the packet, check the figures."""
    rendered = cast(RenderRun, render_farm_flow(film=film) if farm else render_flow(jobs=jobs, film=film))
    cut = cut_stage(film)
    uploaded = upload_flow(film=film)
    packet = packet_flow(film=film)
    facts = facts_check_flow(film=film)
    return PipelineRun(render=rendered, cut=cut, upload=uploaded, packet=packet, facts=facts)
