"""The `docfilm` command line (Typer).

Commands that need no flow (storyboard check, status, show) never import Prefect, so they answer at once.
Exit codes: 0 all done; 1 finished but some items failed or were quarantined; 2 bad input or usage
(nothing written); 3 environment problem (ffmpeg, S3 or database unreachable).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

import typer
from rich.console import Console

from .env import prefect_ready, start_prefect
from .workspace import Workspace, film_path

EXIT_OK, EXIT_PARTIAL, EXIT_INPUT, EXIT_ENV = 0, 1, 2, 3

app = typer.Typer(
    help="docfilm: storyboard → footage ingest → proxies → S3 → review packet, for the Can Tho XIV "
    "Congress documentary.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
storyboard_app = typer.Typer(help="The film's plan.", no_args_is_help=True)
app.add_typer(storyboard_app, name="storyboard")

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)
log = logging.getLogger("docfilm")

FilmOpt = Annotated[
    Path | None,
    typer.Option("--film", help="Storyboard YAML to use instead of the bundled film (or DOCFILM_FILM).",
                 exists=False, dir_okay=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout and nothing else.")]
AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="Date to count days from, YYYY-MM-DD (default: today).")
]


OUR_LOGGERS = ("docfilm", "core", "flows", "storyboard", "assets_manifest", "renders", "delivery", "review")


def _setup_logging(verbose: bool) -> None:
    """Our own messages at INFO (DEBUG with -v) on stderr; libraries' chatter (httpx, botocore) only when it warns."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for name in OUR_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.INFO)


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging on stderr.")] = False) -> None:
    _setup_logging(verbose)


def _fail(code: int, message: str) -> NoReturn:
    err.print(f"[bold red]docfilm:[/] {message}", markup=True, soft_wrap=True)
    raise typer.Exit(code)


def _parse_date(text: str | None) -> date:
    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        _fail(EXIT_INPUT, f"--as-of {text!r}: expected a date as YYYY-MM-DD")


@contextmanager
def _errors() -> Iterator[None]:
    """Map each package's failures to the documented exit codes, with a message instead of a traceback."""
    from assets_manifest.errors import LedgerUnavailable, SourceMissing, UnknownScene
    from storyboard.loader import StoryboardInvalid

    try:
        yield
    except StoryboardInvalid as exc:
        for p in exc.problems:
            err.print(p.format(), markup=False, soft_wrap=True)
        _fail(EXIT_INPUT, f"{len(exc.problems)} problem(s) in the storyboard")
    except (SourceMissing, UnknownScene) as exc:
        _fail(EXIT_INPUT, str(exc))
    except LedgerUnavailable as exc:
        _fail(EXIT_ENV, str(exc))
    except Exception as exc:
        code = _environment_error(exc)
        if code is None:
            raise
        _fail(code, f"{type(exc).__name__}: {exc}")


def _environment_error(exc: BaseException) -> int | None:
    """EXIT_ENV for the named environment failures of renders and delivery, else None."""
    from assets_manifest.errors import LedgerUnavailable
    from delivery.errors import S3Unreachable
    from renders.errors import FfmpegMissing, FontMissing

    from .prefect_server import PrefectServerFailed

    environment = (FfmpegMissing, FontMissing, S3Unreachable, LedgerUnavailable, PrefectServerFailed)
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, environment):
            return EXIT_ENV
        seen = seen.__cause__ or seen.__context__
    return None


def _emit(result: dict[str, Any], as_json: bool, human: Callable[[dict[str, Any]], None]) -> None:
    if as_json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False, default=str) + "\n")
    else:
        human(result)


@contextmanager
def _flows() -> Iterator[Any]:
    """The flows module, with Prefect ready: its server (when docfilm runs one) boots during the import."""
    start_prefect()
    from . import docfilm_flows

    with prefect_ready():
        yield docfilm_flows


# ---------------------------------------------------------------- storyboard
@storyboard_app.command("check")
def storyboard_check(
    film: Annotated[Path | None, typer.Argument(help="Storyboard YAML (default: the bundled film).")] = None,
) -> None:
    """Validate a storyboard; every problem as FILE:LINE:COL: field: message (exit 2 when any)."""
    from storyboard.loader import check_film

    path = film_path(film)
    problems = check_film(path)
    for p in problems:
        out.print(p.format(), markup=False, soft_wrap=True)
    if problems:
        err.print(f"{len(problems)} problem(s) in {path}")
        raise typer.Exit(EXIT_INPUT)
    err.print(f"{path}: ok")


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
    with _errors():
        ws = Workspace(film_path(film))
        ws.film  # noqa: B018  (validate the storyboard before anything is written)
        missing = [str(s) for s in sources if not s.exists()]
        if missing:
            _fail(EXIT_INPUT, f"no such file or folder: {', '.join(missing)}")
        if scene is not None and scene not in ws.scene_ids():
            _fail(EXIT_INPUT, f"--scene {scene}: no such scene in {ws.film_file}")
        with _flows() as flows:
            report = flows.ingest_flow([str(s.absolute()) for s in sources], scene=scene, film=str(ws.film_file),
                                       in_place=in_place)
    _emit(report, as_json, _print_ingest)
    raise typer.Exit(EXIT_PARTIAL if report["quarantined"] or report["failed"] else EXIT_OK)


def _print_ingest(r: dict[str, Any]) -> None:
    for x in r["ingested"]:
        out.print(f"ingested  {x['asset_id']}  {x['kind']:<5} {x['fps'] or '-':>10}  "
                  f"{x['width'] or '-'}x{x['height'] or '-'}  scene {x['scene'] or '-'}  {x['path']}",
                  markup=False, soft_wrap=True)
    for x in r["duplicates"]:
        out.print(f"already in the library {x['asset_id']}  {x['path']}", markup=False, soft_wrap=True)
    for x in r["quarantined"]:
        out.print(f"QUARANTINED {x['path']}: {x['reason']}", markup=False, soft_wrap=True)
    for x in r["failed"]:
        out.print(f"FAILED    {x['path']}: {x['reason']} (not ingested; run ingest again once fixed)", markup=False,
                  soft_wrap=True)
    for g in r.get("mhl_generations", []):
        out.print(f"ASC MHL   {g}", markup=False, soft_wrap=True)
    out.print(f"{len(r['ingested'])} ingested, {len(r['duplicates'])} already in the library, "
              f"{len(r['quarantined'])} quarantined, {len(r['failed'])} failed")


# ---------------------------------------------------------------- render
@app.command()
def render(
    all_: Annotated[bool, typer.Option("--all", help="Render every asset again, stale or not.")] = False,
    scene: Annotated[str | None, typer.Option("--scene", help="Only this scene's assets.")] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", min=1, help="Clips rendered at once.")] = None,
    film: FilmOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Render proxies (H.264 960x540, burnt-in timecode), posters, contact sheets and QC for stale assets."""
    with _errors():
        ws = Workspace(film_path(film))
        ws.film  # noqa: B018
        from renders.tools import ffmpeg_exe, font_file

        ffmpeg_exe(ws.settings.renders)
        font_file(ws.settings.renders)
        from .steps import render_plan

        todo, skipped = render_plan(ws, everything=all_, scene=scene)
        if not todo:
            # Decided from one ledger query without starting Prefect (4-6 s a process) or ffmpeg; the render
            # flow itself answers the same way (state SKIPPED) when a deployment runs it.
            err.print(f"nothing stale (SKIPPED): {skipped} proxies up to date")
            result: dict[str, Any] = {"rendered": [], "skipped": skipped, "failed": []}
        else:
            start_prefect()  # before the progress bars' thread: the server's start forks this process
            from .progress import RichRenderProgress, reporting

            bars = RichRenderProgress(err) if err.is_terminal else None
            with bars or nullcontext(), reporting(bars), _flows() as flows:
                state = flows.render_flow(everything=all_, scene=scene, jobs=jobs, film=str(ws.film_file),
                                          return_state=True)
            result = state.result()
    _emit(result, as_json, _print_render)
    raise typer.Exit(EXIT_PARTIAL if result["failed"] else EXIT_OK)


def _print_render(r: dict[str, Any]) -> None:
    from review.labels import qc_flag_text

    for x in r["rendered"]:
        out.print(f"rendered  {x['asset_id']}  {x['proxy']}", markup=False, soft_wrap=True)
        for flag in (x.get("qc") or {}).get("flags") or []:
            out.print(f"  QC {flag['rule']}: {qc_flag_text(flag)}", markup=False, soft_wrap=True)
    for x in r["failed"]:
        out.print(f"FAILED    {x['asset_id']}  {x.get('name', '')}: {x['reason']}", markup=False, soft_wrap=True)
    out.print(f"{len(r['rendered'])} rendered, {r['skipped']} up to date, {len(r['failed'])} failed")


# ---------------------------------------------------------------- upload
@app.command()
def upload(film: FilmOpt = None, as_json: JsonOpt = False) -> None:
    """Upload proxies and posters not yet in S3 with a matching checksum (embedded SeaweedFS by default)."""
    with _errors():
        ws = Workspace(film_path(film))
        ws.film  # noqa: B018
        with _flows() as flows:
            result = flows.upload_flow(film=str(ws.film_file))
    _emit(result, as_json, _print_upload)
    raise typer.Exit(EXIT_PARTIAL if result["failed"] else EXIT_OK)


def _print_upload(r: dict[str, Any]) -> None:
    for x in r["uploaded"]:
        out.print(f"uploaded  {x['key']}  {x['bytes']} bytes  sha256 {x['checksum']}", markup=False, soft_wrap=True)
    for x in r["failed"]:
        out.print(f"FAILED    {x['key']}: {x['reason']}", markup=False, soft_wrap=True)
    out.print(f"{len(r['uploaded'])} uploaded, {r['skipped']} already verified, {len(r['failed'])} failed")


# ---------------------------------------------------------------- packet
@app.command()
def packet(
    as_of: AsOfOpt = None,
    film: FilmOpt = None,
    as_json: JsonOpt = False,
    verify: Annotated[Path | None, typer.Option(
        "--verify", help="Check a packet folder against its manifest.json instead of building (exit 1 on any "
        "mismatched, missing or extra file).", file_okay=False)] = None,
    hosted: Annotated[bool | None, typer.Option(
        "--hosted/--no-hosted", help="Publish the hosted copy to S3 (default: DOCFILM_PACKET_HOSTED, on).")] = None,
) -> None:
    """Build the review packet (folder + zip, and its hosted copy in S3) and print where to open it."""
    if verify is not None:
        _verify_packet(verify, as_json)
        return
    day = _parse_date(as_of)
    with _errors():
        ws = Workspace(film_path(film))
        ws.film  # noqa: B018
        with _flows() as flows:
            result = flows.packet_flow(as_of=day, film=str(ws.film_file), hosted=hosted)
    keys = ("path", "scenes", "assets", "as_of", "hosted_url", "expires", "zip", "packet_id", "manifest", "changes",
            "notes", "hosted_error")
    _emit({k: result[k] for k in keys}, as_json, _print_packet)
    raise typer.Exit(EXIT_PARTIAL if result["hosted_error"] else EXIT_OK)


def _print_packet(r: dict[str, Any]) -> None:
    out.print(f"packet: {r['path']}\nzip:    {r['zip']}\nid:     {r['packet_id']} ({r['changes']} changes since the "
              f"last packet, {r['notes']} reviewer notes)", markup=False, soft_wrap=True)
    if r["hosted_url"]:
        out.print(f"hosted: {r['hosted_url']}\n        (links expire {r['expires']})", markup=False, soft_wrap=True)
        if r["hosted_url"].startswith(("http://127.0.0.1", "http://localhost", "http://[::1]")):
            err.print("(the embedded S3 listens on this machine only: the hosted link works here while "
                      "`docfilm serve` runs; set DOCFILM_S3_ENDPOINT_URL to share packets)", markup=False)
    if r["hosted_error"]:
        err.print(f"hosted copy not published: {r['hosted_error']}", markup=False, soft_wrap=True)


def _verify_packet(folder: Path, as_json: bool) -> None:
    from review.errors import PacketNotFound
    from review.manifest import verify_packet

    try:
        check = verify_packet(folder)
    except PacketNotFound as exc:
        _fail(EXIT_INPUT, str(exc))

    def human(r: dict[str, Any]) -> None:
        for m in r["mismatched"]:
            out.print(f"MISMATCHED {m['path']}: {m['reason']}", markup=False, soft_wrap=True)
        for name in r["missing"]:
            out.print(f"MISSING    {name}", markup=False, soft_wrap=True)
        for name in r["extra"]:
            out.print(f"EXTRA      {name}", markup=False, soft_wrap=True)
        out.print(f"packet {r['packet_id']}: {r['checked']} files checked, {len(r['mismatched'])} mismatched, "
                  f"{len(r['missing'])} missing, {len(r['extra'])} extra (ledger revision {r['ledger_revision']})",
                  markup=False, soft_wrap=True)

    _emit(check.to_json(), as_json, human)
    raise typer.Exit(EXIT_OK if check.ok else EXIT_PARTIAL)


# ---------------------------------------------------------------- notes
notes_app = typer.Typer(help="Reviewers' notes exported from the packet.", no_args_is_help=True)
app.add_typer(notes_app, name="notes")


@notes_app.command("import")
def notes_import(
    file: Annotated[Path, typer.Argument(help="A notes_<reviewer>_<date>.json file exported from the packet.")],
    film: FilmOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Take a reviewer's exported notes into the ledger; a file damaged or changed since export is refused (exit 2)."""
    from review.errors import NotesRefused

    from .review_steps import import_notes

    with _errors():
        ws = Workspace(film_path(film))
        ws.film  # noqa: B018
        try:
            result = import_notes(ws, file)
        except NotesRefused as exc:
            _fail(EXIT_INPUT, str(exc))

    def human(r: dict[str, Any]) -> None:
        out.print(f"{r['file']}: {r['notes']} notes from {r['reviewer']}: {r['imported']} imported, "
                  f"{r['already']} already in the ledger", markup=False, soft_wrap=True)
        for scene in r["scenes"]:
            out.print(f"  {scene['id']}: {scene['review']}", markup=False, soft_wrap=True)

    _emit(result, as_json, human)


# ---------------------------------------------------------------- run / demo
@app.command()
def run(
    sources: Annotated[list[Path], typer.Argument(help="Files and folders of footage.")],
    scene: Annotated[str | None, typer.Option("--scene", help="Assign every file to this scene id.")] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", min=1, help="Clips rendered at once.")] = None,
    as_of: AsOfOpt = None,
    film: FilmOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The whole pipeline as one flow run: ingest → render → upload → packet."""
    day = _parse_date(as_of)
    with _errors():
        ws = Workspace(film_path(film))
        ws.film  # noqa: B018
        missing = [str(s) for s in sources if not s.exists()]
        if missing:
            _fail(EXIT_INPUT, f"no such file or folder: {', '.join(missing)}")
        with _flows() as flows:
            result = flows.pipeline_flow([str(s.absolute()) for s in sources], scene=scene, jobs=jobs, as_of=day,
                                         film=str(ws.film_file))
    _emit(result, as_json, _print_pipeline)
    ingest_bad = result["ingest"]["quarantined"] or result["ingest"]["failed"]
    bad = ingest_bad or result["render"]["failed"] or result["upload"]["failed"]
    raise typer.Exit(EXIT_PARTIAL if bad else EXIT_OK)


def _print_pipeline(r: dict[str, Any]) -> None:
    _print_ingest(r["ingest"])
    _print_render(r["render"])
    _print_upload(r["upload"])
    out.print(f"packet: {r['packet']['path']}", markup=False, soft_wrap=True)


@app.command()
def demo(
    out_dir: Annotated[Path | None, typer.Option("--out", help="Where to make the sample footage "
                                                 "(default: DOCFILM_HOME/demo-footage).")] = None,
    as_of: AsOfOpt = None,
    jobs: Annotated[int | None, typer.Option("--jobs", min=1, help="Clips rendered at once.")] = None,
) -> None:
    """Make camera-like footage for the bundled film, run the whole pipeline, print the packet's path."""
    from .demo import make_demo_footage

    day = _parse_date(as_of or "2019-05-20")
    with _errors():
        ws = Workspace(film_path(None))
        start_prefect()  # boots while the footage is made
        folder = (out_dir or ws.home / "demo-footage").absolute()
        footage = make_demo_footage(ws.film, folder, ws.settings.renders, console=err)
        with _flows() as flows:
            result = flows.pipeline_flow([str(folder)], jobs=jobs, as_of=day, film=str(ws.film_file))
    _print_pipeline(result)
    expected = {str(p) for p in footage.broken}
    unexpected = [q for q in result["ingest"]["quarantined"] if q["path"] not in expected]
    for q in result["ingest"]["quarantined"]:
        if q["path"] in expected:
            err.print(f"(expected: the demo's deliberately broken file was quarantined: {Path(q['path']).name})")
    # Last on the terminal, after Prefect's logs: where to open the packet.
    err.print(f"Mở hồ sơ xem xét / open the review packet: {result['packet']['path']}", markup=False, soft_wrap=True)
    if unexpected or result["ingest"]["failed"] or result["render"]["failed"] or result["upload"]["failed"]:
        raise typer.Exit(EXIT_PARTIAL)


# ---------------------------------------------------------------- status / show
@app.command()
def status(
    as_of: AsOfOpt = None,
    film: FilmOpt = None,
    as_json: JsonOpt = False,
    lang: Annotated[Literal["vi", "en"] | None, typer.Option(
        "--lang", help="One language, vi or en (default: both where the terminal is wide enough, else vi).")] = None,
) -> None:
    """Where each theme and scene stands against the milestones (no Prefect needed)."""
    from review.status import status_report, status_table

    from .review_steps import review_notes
    from .steps import clip_records

    day = _parse_date(as_of)
    with _errors():
        ws = Workspace(film_path(film))
        report = status_report(ws.film, clip_records(ws), day, review_notes(ws))
    if as_json:
        _emit(report.to_json(), True, lambda r: None)
    else:
        out.print(status_table(report, lang))


@app.command()
def show(asset_id: Annotated[str, typer.Argument(help="Asset id (or its first characters).")]) -> None:
    """Everything the ledger holds about one asset, as JSON."""
    from assets_manifest.report import IngestedItem

    with _errors():
        ws = Workspace(film_path(None))
        matches = [a for a in ws.ledger.assets() if a.asset_id.startswith(asset_id)]
        if len(matches) != 1:
            _fail(EXIT_INPUT, f"{asset_id!r} matches {len(matches)} assets")
        a = matches[0]
        sightings = [s.path for s in ws.ledger.sightings(a.asset_id)]
        entry = IngestedItem.from_asset(a).to_json() | {"probe": a.probe, "sightings": sightings}
        p = ws.ledger.proxies(ws.profile.profile_hash()).get(a.asset_id)
        entry["proxy"] = {"state": p.state, "path": p.proxy_path, "poster": p.poster_path, "reason": p.reason,
                          "qc": p.qc} if p else None
    sys.stdout.write(json.dumps(entry, ensure_ascii=False, indent=2, default=str) + "\n")


@app.command()
def serve() -> None:
    """Start the embedded S3 (SeaweedFS on 127.0.0.1) and keep it running until Ctrl-C."""
    from delivery.seaweed import serve_forever

    from .settings import DocfilmSettings

    with _errors():
        serve_forever(DocfilmSettings.load().s3, console=err)


@app.command()
def verify(film: FilmOpt = None, as_json: JsonOpt = False) -> None:
    """Re-hash every master against the ledger and the library's ASC MHL; report mismatched and missing files."""
    from assets_manifest.verify import verify_library

    with _errors():
        ws = Workspace(film_path(film))
        result = verify_library(ws.ledger, ws.settings.ledger.library_dir()).to_json()
        uploads = ws.ledger.uploads()
        if uploads:
            # Uploaded objects: HEAD with checksums against the ledger's Upload rows (delivery.verify).
            from delivery.verify import verify_ledger_uploads

            result["objects"] = verify_ledger_uploads(uploads, ws.settings.s3).to_json()
    _emit(result, as_json, _print_verify)
    objects = result.get("objects") or {}
    bad = result["mismatched"] or result["missing"] or objects.get("mismatched") or objects.get("missing")
    raise typer.Exit(EXIT_PARTIAL if bad else EXIT_OK)


def _print_verify(r: dict[str, Any]) -> None:
    for x in r["mismatched"]:
        out.print(f"MISMATCHED {x['path']} (against {', '.join(x['against'])})", markup=False, soft_wrap=True)
    for x in r["missing"]:
        out.print(f"MISSING    {x['path']}", markup=False, soft_wrap=True)
    out.print(f"{r['checked']} checked, {len(r['mismatched'])} mismatched, {len(r['missing'])} missing")
    if o := r.get("objects"):
        for url in o["mismatched"]:
            out.print(f"MISMATCHED {url}", markup=False, soft_wrap=True)
        for url in o["missing"]:
            out.print(f"MISSING    {url}", markup=False, soft_wrap=True)
        out.print(f"objects: {o['checked']} checked, {len(o['mismatched'])} mismatched, {len(o['missing'])} missing")


def main() -> None:
    app()
