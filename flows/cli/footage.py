"""Commands on the footage: ingest, render, upload, verify, and the embedded S3 (`serve`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..env import start_prefect
from .application import (
    EXIT_INPUT,
    EXIT_OK,
    EXIT_PARTIAL,
    FilmOpt,
    JsonOpt,
    _bars,
    _emit,
    _fail,
    _flows,
    _settings,
    _workspace,
    app,
    err,
    out,
)

if TYPE_CHECKING:
    from ..results import IngestRun, RenderRun, UploadRun, VerifyRun


# ---------------------------------------------------------------- ingest
@app.command()
def ingest(
    sources: Annotated[list[Path], typer.Argument(help="Files and folders of footage (read only).")],
    scene: Annotated[str | None, typer.Option("--scene", help="Assign every file to this scene id.")] = None,
    in_place: Annotated[bool, typer.Option(
        "--in-place", help="The footage already sits on managed storage: record it where it is, copy nothing.")
    ] = False,
    film: FilmOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Verified offload into the library (DOCFILM_LIBRARY) with ASC MHL; unreadable files are quarantined."""
    ws = _workspace(film)
    ws.film  # noqa: B018  (validate the storyboard before anything is written)
    missing = [str(s) for s in sources if not s.exists()]
    if missing:
        _fail(EXIT_INPUT, f"no such file or folder: {', '.join(missing)}")
    if scene is not None and scene not in ws.scene_ids():
        _fail(EXIT_INPUT, f"--scene {scene}: no such scene in {ws.film_file}")
    with _bars(), _flows() as flows:
        run: IngestRun = flows.ingest_flow([str(s.absolute()) for s in sources], scene=scene,
                                           film=str(ws.film_file), in_place=in_place)
    _emit(run, as_json, _print_ingest)
    raise typer.Exit(EXIT_PARTIAL if run.problems else EXIT_OK)


def _print_ingest(run: IngestRun) -> None:
    r = run.report
    for x in r.ingested:
        out.print(f"ingested  {x.asset_id}  {x.kind:<5} {x.fps or '-':>10}  "
                  f"{x.width or '-'}x{x.height or '-'}  scene {x.scene or '-'}  {x.path}",
                  markup=False, soft_wrap=True)
    for d in r.duplicates:
        out.print(f"already in the library  {d.asset_id}  {d.path}", markup=False, soft_wrap=True)
    for q in r.quarantined:
        out.print(f"QUARANTINED {q.path}: {q.reason}", markup=False, soft_wrap=True)
    for f in r.failed:
        out.print(f"FAILED    {f.path}: {f.reason} (not ingested; run ingest again once fixed)", markup=False,
                  soft_wrap=True)
    for g in r.mhl:
        out.print(f"ASC MHL   {g}", markup=False, soft_wrap=True)
    out.print(f"{len(r.ingested)} ingested, {len(r.duplicates)} already in the library, "
              f"{len(r.quarantined)} quarantined, {len(r.failed)} failed")


# ---------------------------------------------------------------- render
@app.command()
def render(
    all_: Annotated[bool, typer.Option("--all", help="Render every asset again, stale or not.")] = False,
    scene: Annotated[str | None, typer.Option("--scene", help="Only this scene's assets.")] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", min=1, help="Clips rendered at once.")] = None,
    farm: Annotated[bool, typer.Option(
        "--farm", help="Render on the farm: flow runs of the render-asset deployment on the docfilm-farm work "
        "pool (PREFECT_API_URL, DOCFILM_DATABASE_URL and S3 shared; see README \"Scale out\").")] = False,
    film: FilmOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Render proxies (H.264 960x540, burnt-in timecode), posters, contact sheets and QC for stale assets."""
    if all_ and not farm:
        start_prefect()  # a flow will run: Prefect's server (the longest part of the start) boots from here on
    ws = _workspace(film)
    ws.film  # noqa: B018
    if farm:
        _render_on_farm(ws, all_, scene, as_json)
        return
    from renders.tools import ffmpeg_exe, font_file

    ffmpeg_exe(ws.settings.renders)
    font_file(ws.settings.renders)
    from ..render_staleness import nothing_stale

    # The embedded ledger answers "nothing stale" by sqlite3 alone (no SQLAlchemy: ~0.5 s of CPU for 1,000
    # assets); anything else, or any doubt, plans with the ledger as the render flow does.
    up_to_date = None if all_ else nothing_stale(ws.settings.ledger.url(), ws.profile.profile_hash(), scene)
    todo: list[Any]
    if up_to_date is not None:
        todo, skipped = [], up_to_date
    else:
        if not all_ and ws.settings.ledger.url().startswith("sqlite"):
            # The embedded ledger's check found something stale, so a flow will run (--all started the server
            # above): Prefect's server boots (its longest part) while this process plans and imports the flows.
            start_prefect()
        from ..steps import render_plan

        todo, skipped = render_plan(ws, everything=all_, scene=scene)
    if not todo:
        # Decided from one ledger query without starting Prefect (4-6 s a process) or ffmpeg; the render
        # flow itself answers the same way (state SKIPPED) when a deployment runs it.
        err.print(f"nothing stale (SKIPPED): {skipped} proxies up to date")
        from ..results import RenderRun

        result = RenderRun(skipped=skipped)
    else:
        with _bars(), _flows() as flows:
            state = flows.render_flow(everything=all_, scene=scene, jobs=jobs, film=str(ws.film_file),
                                      return_state=True)
        result = state.result()
    _emit(result, as_json, _print_render)
    raise typer.Exit(EXIT_PARTIAL if result.failed else EXIT_OK)


def _render_on_farm(ws: Any, everything: bool, scene: str | None, as_json: bool) -> None:
    import os

    from farm.errors import FarmNotConfigured

    if not os.environ.get("PREFECT_API_URL"):
        raise FarmNotConfigured("render --farm needs the farm's Prefect server in PREFECT_API_URL (and the shared "
                                "DOCFILM_DATABASE_URL and S3 settings): source the env file `docfilm farm local` "
                                "wrote, or see README \"Scale out\"")
    with _bars(), _flows() as flows:
        state = flows.render_farm_flow(everything=everything, scene=scene, film=str(ws.film_file),
                                       return_state=True)
    result: RenderRun = state.result()
    _emit(result, as_json, _print_render)
    raise typer.Exit(EXIT_PARTIAL if result.failed else EXIT_OK)


def _print_render(r: RenderRun) -> None:
    from review.labels import qc_flag_text

    for x in r.rendered:
        where = f"  by {x.worker} → {x.key}" if x.worker else ""
        out.print(f"rendered  {x.asset_id}  {x.proxy}{where}", markup=False, soft_wrap=True)
        for flag in x.flags:
            out.print(f"  QC {flag.get('rule')}: {qc_flag_text(flag)}", markup=False, soft_wrap=True)
    print_render_failures(r)
    out.print(f"{len(r.rendered)} rendered, {r.skipped} up to date, {len(r.failed)} failed")


def print_render_failures(r: RenderRun) -> None:
    for f in r.failed:
        out.print(f"FAILED    {f.asset_id}  {f.name}: {f.reason}", markup=False, soft_wrap=True)


# ---------------------------------------------------------------- upload
@app.command()
def upload(film: FilmOpt = None, as_json: JsonOpt = False) -> None:
    """Upload proxies and posters not yet in S3 with a matching checksum (embedded SeaweedFS by default)."""
    ws = _workspace(film)
    ws.film  # noqa: B018
    with _flows() as flows:
        result: UploadRun = flows.upload_flow(film=str(ws.film_file))
    _emit(result, as_json, _print_upload)
    raise typer.Exit(EXIT_PARTIAL if result.failed else EXIT_OK)


def _print_upload(r: UploadRun) -> None:
    for x in r.uploaded:
        out.print(f"uploaded  {x.key}  {x.bytes} bytes  sha256 {x.checksum}", markup=False, soft_wrap=True)
    print_upload_failures(r)
    out.print(f"{len(r.uploaded)} uploaded, {r.skipped} already verified, {len(r.failed)} failed")


def print_upload_failures(r: UploadRun) -> None:
    for f in r.failed:
        out.print(f"FAILED    {f.key}: {f.reason}", markup=False, soft_wrap=True)


@app.command()
def serve() -> None:
    """Start the embedded S3 (SeaweedFS on 127.0.0.1) and Prefect's API for the flow commands run meanwhile, and
    keep them running until Ctrl-C."""
    from delivery.seaweed import serve_forever

    from ..env import docfilm_home, prefect_configured
    from ..prefect_server import ServedPrefect, database_at_head, served_server

    settings = _settings()
    companion = None
    prefect_home = docfilm_home() / "prefect"
    if not prefect_configured() and served_server(prefect_home) is None:
        if not database_at_head(prefect_home / "prefect.db"):
            err.print("starting Prefect's server: its first start in this home creates its database (10-20 s) …",
                      markup=False, soft_wrap=True)
        companion = ServedPrefect(prefect_home)  # boots while the S3 starts
    try:
        serve_forever(settings.s3, console=err, companion=companion)
    finally:
        if companion is not None:
            companion.stop()  # when the S3 was already served, or failed to start


@app.command()
def verify(film: FilmOpt = None, as_json: JsonOpt = False) -> None:
    """Re-hash every master against the ledger and the library's ASC MHL; report mismatched and missing files."""
    from assets_manifest.verify import verify_library

    from ..results import VerifyRun

    ws = _workspace(film)
    library = verify_library(ws.ledger, ws.settings.ledger.library_dir())
    objects = None
    uploads = ws.ledger.uploads()
    if uploads:
        # Uploaded objects: HEAD with checksums against the ledger's Upload rows (delivery.verify).
        from delivery.verify import verify_ledger_uploads

        objects = verify_ledger_uploads(uploads, ws.settings.s3)
    result = VerifyRun(library, objects)
    _emit(result, as_json, _print_verify)
    raise typer.Exit(EXIT_OK if result.ok else EXIT_PARTIAL)


def _print_verify(r: VerifyRun) -> None:
    lib = r.library
    for x in lib.mismatched:
        out.print(f"MISMATCHED {x.path} (against {', '.join(x.against)})", markup=False, soft_wrap=True)
    for x in lib.missing:
        out.print(f"MISSING    {x.path}", markup=False, soft_wrap=True)
    out.print(f"{lib.checked} checked, {len(lib.mismatched)} mismatched, {len(lib.missing)} missing")
    if o := r.objects:
        for url in o.mismatched:
            out.print(f"MISMATCHED {url}", markup=False, soft_wrap=True)
        for url in o.missing:
            out.print(f"MISSING    {url}", markup=False, soft_wrap=True)
        out.print(f"objects: {o.checked} checked, {len(o.mismatched)} mismatched, {len(o.missing)} missing")
