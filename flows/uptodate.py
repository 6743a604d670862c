"""Whether a pipeline run (`docfilm run`, `docfilm demo`) has nothing to do, decided without Prefect or S3.

The pipeline flow proves "nothing to do" the long way: a Prefect server, every source re-read and hashed,
SeaweedFS started and asked about each object, the hosted packet presigned and published again. When nothing
changed, each stage can be shown to be up to date from what the ledger and the files on this machine say, in
well under a second, before any of that starts:

- ingest: every file under the sources is a sighting the ledger holds with the same path, size and mtime, and
  its asset's master is in the library with its size (the sources are not re-read: the line says so); a file the
  ledger quarantined counts when it still has the quarantined bytes (hashed: quarantined files are few);
- render: `steps.render_plan` finds nothing stale (the same check the render flow makes);
- cut: the string-out is unchanged (demo: `assemble_step` finds it identical to the current cut) and the review
  cut is not stale (`cut_steps.review_cut_staleness`, as the pipeline does);
- upload: every proxy and poster the upload flow would deliver has a verified upload in the ledger, to the same
  endpoint, bucket and key, with the file's SHA-256 (hashed here when the ledger has none) and size;
- packet: the packet's rebuild key (review.rebuild) over the same inputs the packet flow passes is the kept one
  and its outputs are untouched; a hosted packet also needs its published index.html in the ledger with the
  local copy's SHA-256 and links valid for at least half of DOCFILM_S3_PRESIGN_EXPIRY_SECONDS more;
- facts: the figures' check runs in full (it reads no media).

The first stage that is not up to date ends the check (returning why); the command then runs the flow as
always. Anything the check cannot decide (masters in S3, an unexpected error) also means "run the flow".
Nothing here imports prefect or boto3, and nothing is written but what `assemble_step` writes (a changed
string-out, which the flow would save too).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import cast

from core.errors import endpoint_of

from .results import CutStage, FactsSummary, IngestRun, PacketRun, PipelineRun, RenderRun, UploadRun
from .workspace import Workspace

log = logging.getLogger(__name__)

STAGES = ("ingest", "render", "cut", "upload", "packet", "facts")


StageResult = IngestRun | RenderRun | CutStage | UploadRun | PacketRun | FactsSummary


class NotUpToDate(Exception):
    """A stage has work to do (the message says which and why): the flow must run."""


@dataclass(frozen=True)
class StageCheck:
    """One stage shown to be up to date: its result as the flow returns it, the check's time, how it was shown."""

    stage: str
    result: StageResult
    seconds: float
    how: str = ""


@dataclass
class UpToDate:
    """Every stage up to date: the pipeline's result (the flow's shape) and each stage's check."""

    checks: list[StageCheck] = field(default_factory=list)

    @property
    def result(self) -> PipelineRun:
        found = {c.stage: c.result for c in self.checks}
        return PipelineRun(ingest=cast(IngestRun, found["ingest"]), render=cast(RenderRun, found["render"]),
                           cut=cast(CutStage, found["cut"]), upload=cast(UploadRun, found["upload"]),
                           packet=cast(PacketRun, found["packet"]), facts=cast(FactsSummary, found["facts"]))


def pipeline_up_to_date(
    ws: Workspace, sources: list[str], *, as_of: date, assemble_cut: bool = False
) -> UpToDate | str:
    """Every stage up to date (UpToDate), or the reason the pipeline flow must run (text)."""
    if ws.settings.s3.library_s3:
        return "masters and proxies live in S3 (DOCFILM_LIBRARY_S3=on): S3 must be asked"
    done = UpToDate()
    checks = (
        ("ingest", lambda: _ingest(ws, sources)),
        ("render", lambda: _render(ws)),
        ("cut", lambda: _cut(ws, assemble_cut)),
        ("upload", lambda: _upload(ws)),
        ("packet", lambda: _packet(ws, as_of)),
        ("facts", lambda: (_facts(ws, as_of), "")),
    )
    for stage, check in checks:
        started = time.monotonic()
        try:
            result, how = check()
        except NotUpToDate as exc:
            return f"{stage}: {exc}"
        except Exception as exc:  # the flow decides then, and reports any failure the usual way
            log.debug("up-to-date check of %s failed", stage, exc_info=True)
            return f"{stage}: could not be checked without the flow ({type(exc).__name__}: {exc})"
        done.checks.append(StageCheck(stage, result, round(time.monotonic() - started, 3), how))
    return done


# ---------------------------------------------------------------- ingest
def _ingest(ws: Workspace, sources: list[str]) -> tuple[IngestRun, str]:
    """Every source file seen before with the same size and mtime (its master in place), or quarantined with the
    same bytes; the ingest report the flow would give, without its ASC MHL generation."""
    import os

    from assets_manifest.hashing import digest_file
    from assets_manifest.naming import display_path, display_text
    from assets_manifest.report import DuplicateItem, IngestReport, QuarantinedItem
    from assets_manifest.sources import walk_sources

    roots = [Path(os.path.abspath(s)) for s in sources]
    skip = [ws.home, ws.settings.ledger.library_dir()]  # as the ingest flow excludes them
    quarantined = {}
    for row in sorted(ws.ledger.quarantined(), key=lambda q: q.id):
        quarantined[row.path] = row  # the latest verdict per path
    duplicates: list[DuplicateItem] = []
    bad: list[QuarantinedItem] = []
    sightings = {}  # one query a source root, as ingest reads them (Ledger.sightings_under), not one a file
    for root in roots:
        sightings.update(ws.ledger.sightings_under(display_path(root)))
    for _root, path in walk_sources(roots, skip):
        shown = display_text(os.fsencode(path))
        st = path.stat()
        known = sightings.get((shown, st.st_size, st.st_mtime_ns))
        if known is not None:
            try:
                master_ok = os.stat(known.path).st_size == known.size
            except OSError:
                master_ok = False
            if not master_ok:
                raise NotUpToDate(f"the master of {shown} is missing from the library")
            duplicates.append(DuplicateItem(shown, known.asset_id, known.path))
            continue
        verdict = quarantined.get(shown)
        if verdict is None or not verdict.sha256 or digest_file(path).sha256 != verdict.sha256:
            raise NotUpToDate(f"{shown} is new or changed since it was last ingested")
        bad.append(QuarantinedItem(shown, verdict.reason))
    report = IngestReport(tuple(), tuple(duplicates), tuple(bad), tuple(), tuple())
    return IngestRun(report), "sources unchanged since ingested (size, mtime; not re-read)"


# ---------------------------------------------------------------- render, cut
def _render(ws: Workspace) -> tuple[RenderRun, str]:
    from .steps import render_plan

    todo, skipped = render_plan(ws)
    if todo:
        raise NotUpToDate(f"{len(todo)} proxies to render")
    return RenderRun(skipped=skipped), ""


def _cut(ws: Workspace, assemble_cut: bool) -> tuple[CutStage, str]:
    from .cut_steps import assemble_step, review_cut_staleness

    if assemble_cut and assemble_step(ws).new:
        raise NotUpToDate("the string-out changed (a new cut version)")
    staleness = review_cut_staleness(ws)
    if staleness.stale:
        raise NotUpToDate("review cut stale: " + "; ".join(staleness.reasons))
    return staleness.summary(), ""


# ---------------------------------------------------------------- upload
def _s3_endpoint(ws: Workspace) -> str:
    """host:port of the object store uploads go to: the configured endpoint, or the embedded SeaweedFS's S3 port
    (kept in <home>/s3/ports.json, read here without starting or importing it)."""
    s3 = ws.settings.s3
    if s3.endpoint_url is not None:
        return endpoint_of(s3.endpoint_url)
    ports_file = Path(s3.home).absolute() / "s3" / "ports.json"
    try:
        port = int(json.loads(ports_file.read_text(encoding="utf-8"))["ports"]["s3"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise NotUpToDate(f"the embedded S3 has no recorded port ({exc})") from None
    return f"127.0.0.1:{port}"


def _upload(ws: Workspace) -> tuple[UploadRun, str]:
    from assets_manifest.hashing import digest_file

    from .steps import upload_plan

    endpoint, bucket = _s3_endpoint(ws), ws.settings.s3.bucket
    recorded = {u.key: u for u in ws.ledger.uploads() if u.bucket == bucket and endpoint_of(u.endpoint) == endpoint}
    items = upload_plan(ws)
    for item in items:
        row = recorded.get(item.key)
        if row is None:
            raise NotUpToDate(f"{item.key} is not in S3 yet")
        if item.path.stat().st_size != row.bytes or (item.sha256 or digest_file(item.path).sha256) != row.sha256:
            raise NotUpToDate(f"{item.key}: the file differs from the object uploaded")
    return UploadRun(skipped=len(items)), "verified uploads in the ledger"


# ---------------------------------------------------------------- packet, facts
def _packet(ws: Workspace, as_of: date) -> tuple[PacketRun, str]:
    """The packet as the kept result of its last build, when its rebuild key and outputs are unchanged."""
    from assets_manifest.hashing import digest_file
    from review.hosted import hosted_key
    from review.rebuild import input_key, key_file, unchanged

    from .review_steps import packet_cut, packet_figures, review_notes
    from .steps import clip_records

    settings = ws.settings.review
    film_id = ws.film.film.id
    out_root = settings.packet_root()
    hosted = settings.packet_hosted
    notes = review_notes(ws)
    figures = packet_figures(ws, as_of)
    # The same inputs, by the same names, as review.packet.build_packet keys a build by.
    key = input_key(film=ws.film, clips=clip_records(ws), notes=notes, figures=figures, as_of=as_of,
                    cut=packet_cut(ws), hosted=hosted)
    kept = unchanged(out_root, film_id, key)
    if kept is None:
        raise NotUpToDate("its inputs or files changed since the last build")
    result = PacketRun(path=str(kept.path), zip=str(kept.zip), scenes=kept.scenes, assets=kept.assets,
                       as_of=as_of.isoformat(), packet_id=kept.packet_id, manifest=str(kept.manifest),
                       changes=kept.changes, notes=len(notes), unchanged=True)
    if not hosted:
        return result, "unchanged since built (rebuild key)"
    document = json.loads(key_file(out_root, film_id).read_text(encoding="utf-8"))
    index, expires_text = document["result"].get("hosted_index"), document["result"].get("hosted_expires")
    if not index or not expires_text:
        raise NotUpToDate("its hosted copy was not made")
    expires = datetime.fromisoformat(expires_text)
    if (expires - datetime.now(UTC)).total_seconds() < ws.settings.s3.presign_expiry_seconds / 2:
        raise NotUpToDate(f"the hosted copy's links expire at {expires_text}: presign them again")
    endpoint, bucket = _s3_endpoint(ws), ws.settings.s3.bucket
    row = next((u for u in ws.ledger.uploads() if u.bucket == bucket and u.key == hosted_key(film_id, "index.html")
                and endpoint_of(u.endpoint) == endpoint), None)
    if row is None or row.sha256 != digest_file(Path(index)).sha256:
        raise NotUpToDate("its hosted copy is not the one published")
    how = f"unchanged since built (rebuild key); hosted copy valid until {expires_text}"
    return replace(result, expires=expires_text), how


def _facts(ws: Workspace, as_of: date) -> FactsSummary:
    from .steps_facts import check_film, check_summary

    return check_summary(check_film(ws.film_file, as_of=as_of, home=ws.home))
