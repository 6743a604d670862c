"""The `docfilm` command line (Typer).

Commands that need no flow (storyboard check, status, show) never import Prefect, so they answer at once.
Exit codes: 0 all done; 1 finished but some items failed or were quarantined; 2 bad input or usage
(nothing written); 3 environment problem (ffmpeg, S3 or database unreachable).

Failures are mapped in one place (`DocfilmGroup`): any `core.errors.DocfilmError` in an exception's chain
(Prefect may wrap it) ends the command with one line `docfilm: <message>` and the error's own `exit_code`;
`--debug` (or DOCFILM_DEBUG=1) adds its traceback. Anything else is a bug and keeps its traceback (exit 1).
"""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer._click.core import Context as ClickContext  # Typer vendors click; its group takes this Context
from typer.core import TyperGroup

from core.errors import EXIT_ENV, EXIT_INPUT, EXIT_OK, EXIT_PARTIAL, DocfilmError, known_error

from .console import setup_console_logging
from .env import prefect_ready, start_prefect
from .settings import AppSettings, DocfilmSettings, SettingsInvalid
from .workspace import Workspace, film_path

__all__ = ["EXIT_ENV", "EXIT_INPUT", "EXIT_OK", "EXIT_PARTIAL", "app", "main"]

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)
log = logging.getLogger("docfilm")


@dataclass
class CommandState:
    """What the global options and the environment say for the command being run (reset per invocation)."""

    verbose: bool = False
    debug: bool = False
    settings: DocfilmSettings | None = None


_state = CommandState()


class DocfilmGroup(TyperGroup):
    """The command group that runs every command inside the one map from failures to exit codes."""

    def invoke(self, ctx: ClickContext) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            # Chosen exit codes and usage errors, reported by Typer itself (even when raised while handling a
            # DocfilmError, which their context would otherwise name again).
            raise
        except Exception as exc:
            known = known_error(exc)
            if known is None:
                raise  # a bug: its traceback is what a bug report needs
            _report(exc, known)
            raise typer.Exit(known.exit_code) from None


def _report(exc: BaseException, known: DocfilmError) -> None:
    """`docfilm: <message>` (a message of several lines, e.g. a storyboard's problems, keeps them all)."""
    if _state.debug:
        err.print("".join(traceback.format_exception(exc)), markup=False, highlight=False, soft_wrap=True)
    first, *rest = (str(known) or type(known).__name__).splitlines() or [type(known).__name__]
    err.print(f"[bold red]docfilm:[/] {escape(first)}", soft_wrap=True)
    for line in rest:
        err.print(line, markup=False, soft_wrap=True)


app = typer.Typer(
    cls=DocfilmGroup,
    help="docfilm: storyboard → footage ingest → proxies → S3 → review packet, for the Can Tho XIV "
    "Congress documentary.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
storyboard_app = typer.Typer(help="The film's plan.", no_args_is_help=True)
app.add_typer(storyboard_app, name="storyboard")

FilmOpt = Annotated[
    Path | None,
    typer.Option("--film", help="Storyboard YAML to use instead of the bundled film (or DOCFILM_FILM).",
                 exists=False, dir_okay=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout and nothing else.")]
AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="Date to count days from, YYYY-MM-DD (default: today).")
]


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Debug logging and Prefect's run lines on stderr.")] = False,
    debug: Annotated[bool, typer.Option(
        "--debug", help="Show the traceback of known failures too (or DOCFILM_DEBUG=1).")] = False,
) -> None:
    # Reset in place: modules holding `_state` see this command's options (tests invoke the app repeatedly).
    _state.verbose, _state.debug, _state.settings = verbose, debug, None
    setup_console_logging(err, verbose=verbose, debug=debug)
    # Read once for the whole command; a bad DOCFILM_* value ends it here with exit 2, naming the variable.
    try:
        _state.settings = DocfilmSettings.load()
    except SettingsInvalid:
        _state.debug = debug or _debug_from_env()  # DOCFILM_DEBUG=1 shows this failure's traceback too
        raise
    if _state.settings.app.debug and not debug:
        _state.debug = True
        setup_console_logging(err, verbose=verbose, debug=True)


def _debug_from_env() -> bool:
    try:
        return AppSettings().debug
    except ValidationError:
        return False


def _settings() -> DocfilmSettings:
    """The command's settings, read once by the callback (or here, when a test calls a command directly)."""
    if _state.settings is None:
        _state.settings = DocfilmSettings.load()
    return _state.settings


def _film_file(film: Path | None) -> Path:
    """--film, else DOCFILM_FILM, else the bundled film."""
    return film_path(film or _settings().app.film)


def _workspace(film: Path | None) -> Workspace:
    return Workspace(_film_file(film), _settings())


def _fail(code: int, message: str) -> NoReturn:
    err.print(f"[bold red]docfilm:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def _parse_date(text: str | None) -> date:
    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        _fail(EXIT_INPUT, f"--as-of {text!r}: expected a date as YYYY-MM-DD")


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


@contextmanager
def _bars() -> Iterator[None]:
    """Progress bars on stderr while the block runs, when stderr is a terminal (ingest files, render frames)."""
    start_prefect()  # before the bars' thread: the server's start forks this process
    from .progress import RichRenderProgress, reporting

    bars = RichRenderProgress(err) if err.is_terminal else None
    with bars or nullcontext(), reporting(bars):
        yield


# ---------------------------------------------------------------- storyboard
@storyboard_app.command("check")
def storyboard_check(
    film: Annotated[Path | None, typer.Argument(help="Storyboard YAML (default: the bundled film).")] = None,
) -> None:
    """Validate a storyboard; every problem as FILE:LINE:COL: field: message (exit 2 when any)."""
    from storyboard.loader import check_film

    path = _film_file(film)
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
    ws = _workspace(film)
    ws.film  # noqa: B018  (validate the storyboard before anything is written)
    missing = [str(s) for s in sources if not s.exists()]
    if missing:
        _fail(EXIT_INPUT, f"no such file or folder: {', '.join(missing)}")
    if scene is not None and scene not in ws.scene_ids():
        _fail(EXIT_INPUT, f"--scene {scene}: no such scene in {ws.film_file}")
    with _bars(), _flows() as flows:
        report = flows.ingest_flow([str(s.absolute()) for s in sources], scene=scene, film=str(ws.film_file),
                                   in_place=in_place)
    _emit(report, as_json, _print_ingest)
    raise typer.Exit(EXIT_PARTIAL if report["quarantined"] else EXIT_OK)


def _print_ingest(r: dict[str, Any]) -> None:
    for x in r["ingested"]:
        out.print(f"ingested  {x['asset_id']}  {x['kind']:<5} {x['fps'] or '-':>10}  "
                  f"{x['width'] or '-'}x{x['height'] or '-'}  scene {x['scene'] or '-'}  {x['path']}",
                  markup=False, soft_wrap=True)
    for x in r["duplicates"]:
        out.print(f"already   {x['asset_id']}  {x['path']} (already in the library)", markup=False, soft_wrap=True)
    for x in r["quarantined"]:
        out.print(f"QUARANTINED {x['path']}: {x['reason']}", markup=False, soft_wrap=True)
    for g in r.get("mhl_generations", []):
        out.print(f"ASC MHL   {g}", markup=False, soft_wrap=True)
    out.print(f"{len(r['ingested'])} ingested, {len(r['duplicates'])} already in the library, "
              f"{len(r['quarantined'])} quarantined")


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
    ws = _workspace(film)
    ws.film  # noqa: B018
    from renders.tools import ffmpeg_exe, font_file

    ffmpeg_exe()
    font_file()
    from .steps import render_plan

    todo, skipped = render_plan(ws, everything=all_, scene=scene)
    if not todo:
        # Decided from one ledger query without starting Prefect (4-6 s a process) or ffmpeg; the render
        # flow itself answers the same way (state SKIPPED) when a deployment runs it.
        err.print(f"nothing stale (SKIPPED): {skipped} proxies up to date")
        result: dict[str, Any] = {"rendered": [], "skipped": skipped, "failed": []}
    else:
        with _bars(), _flows() as flows:
            state = flows.render_flow(everything=all_, scene=scene, jobs=jobs, film=str(ws.film_file),
                                      return_state=True)
        result = state.result()
    _emit(result, as_json, _print_render)
    raise typer.Exit(EXIT_PARTIAL if result["failed"] else EXIT_OK)


def _print_render(r: dict[str, Any]) -> None:
    for x in r["rendered"]:
        out.print(f"rendered  {x['asset_id']}  {x['proxy']}", markup=False, soft_wrap=True)
        for flag in (x.get("qc") or {}).get("flags") or []:
            out.print(f"  QC {flag['rule']}: {flag['message']}", markup=False, soft_wrap=True)
    for x in r["failed"]:
        out.print(f"FAILED    {x['asset_id']}  {x.get('name', '')}: {x['reason']}", markup=False, soft_wrap=True)
    out.print(f"{len(r['rendered'])} rendered, {r['skipped']} up to date, {len(r['failed'])} failed")


# ---------------------------------------------------------------- upload
@app.command()
def upload(film: FilmOpt = None, as_json: JsonOpt = False) -> None:
    """Upload proxies and posters not yet in S3 with a matching checksum (embedded SeaweedFS by default)."""
    ws = _workspace(film)
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
    ws = _workspace(film)
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
    from review.manifest import verify_packet

    check = verify_packet(folder)

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
    """Take a reviewer's exported notes into the ledger; a bad or tampered file is refused (exit 2, nothing written)."""
    from .review_steps import import_notes

    ws = _workspace(film)
    ws.film  # noqa: B018
    result = import_notes(ws, file)

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
    ws = _workspace(film)
    ws.film  # noqa: B018
    missing = [str(s) for s in sources if not s.exists()]
    if missing:
        _fail(EXIT_INPUT, f"no such file or folder: {', '.join(missing)}")
    result, stages = _run_pipeline([str(s.absolute()) for s in sources], scene=scene, jobs=jobs, as_of=day,
                                   film_file=ws.film_file)
    _emit(result, as_json, lambda r: _print_pipeline(r, stages))
    bad = result["ingest"]["quarantined"] or result["render"]["failed"] or result["upload"]["failed"]
    raise typer.Exit(EXIT_PARTIAL if bad else EXIT_OK)


# What each stage's counts are called on the terminal: (done, already there).
STAGE_WORDS = {
    "ingest": ("new", "already in the library"),
    "render": ("rendered", "up to date"),
    "upload": ("uploaded", "already in S3"),
    "packet": ("built", ""),
}


@dataclass(frozen=True)
class StageCounts:
    """One stage of a pipeline run as the terminal shows it."""

    stage: str
    done: int
    already: int | None
    problems: int
    problem_word: str
    seconds: float | None = None

    @classmethod
    def of(cls, stage: str, r: dict[str, Any], seconds: float | None = None) -> StageCounts:
        if stage == "ingest":
            quarantined, failed = len(r["quarantined"]), len(r.get("failed") or [])
            word = "quarantined" if not failed else "failed" if not quarantined else "quarantined or failed"
            return cls(stage, len(r["ingested"]), len(r["duplicates"]), quarantined + failed, word, seconds)
        if stage == "packet":
            return cls(stage, 1, None, 1 if r.get("hosted_error") else 0, "hosted copy failed", seconds)
        done = r["rendered"] if stage == "render" else r["uploaded"]
        return cls(stage, len(done), r["skipped"], len(r["failed"]), "failed", seconds)

    def line(self) -> str:
        done_word, already_word = STAGE_WORDS[self.stage]
        parts = [f"{self.done} {done_word}"]
        if self.already is not None:
            parts.append(f"{self.already} {already_word}")
        if self.problems:
            parts.append(f"{self.problems} {self.problem_word}")
        took = f"  ({self.seconds:.1f} s)" if self.seconds is not None else ""
        return f"{self.stage:<7} {', '.join(parts)}{took}"


class StageLines:
    """The CLI's stage reporter: one line on stderr as each stage of the pipeline ends, with its time."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.stages: list[StageCounts] = []
        self._since = time.monotonic()

    def stage_finished(self, stage: str, result: Any) -> None:
        now = time.monotonic()
        counts = StageCounts.of(stage, result, round(now - self._since, 1))
        self._since = now
        self.stages.append(counts)
        self.console.print(counts.line(), markup=False, highlight=False, soft_wrap=True)


def _run_pipeline(
    sources: list[str], *, scene: str | None = None, jobs: int | None, as_of: date, film_file: Path
) -> tuple[dict[str, Any], StageLines]:
    """The pipeline flow, telling each stage's end on stderr and drawing render bars on a terminal."""
    from .progress import reporting_stages

    stages = StageLines(err)
    with _bars(), reporting_stages(stages), _flows() as flows:
        result = flows.pipeline_flow(sources, scene=scene, jobs=jobs, as_of=as_of, film=str(film_file))
    return result, stages


def _print_pipeline(r: dict[str, Any], stages: StageLines | None = None, expected: set[str] | None = None) -> None:
    """A table of the stages, then every problem with its reason (each item too with -v), then the packet."""
    if _state.verbose:
        _print_ingest(r["ingest"])
        _print_render(r["render"])
        _print_upload(r["upload"])
    timed = {c.stage: c for c in stages.stages} if stages is not None else {}
    table = Table(show_edge=False)
    for name, justify in (("stage", "left"), ("done", "right"), ("already", "right"), ("problems", "right"),
                          ("seconds", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for stage in STAGE_WORDS:
        c = timed.get(stage) or StageCounts.of(stage, r[stage])
        table.add_row(stage, str(c.done), "" if c.already is None else str(c.already), str(c.problems),
                      "" if c.seconds is None else f"{c.seconds:.1f}")
    out.print(table)
    expected = expected or set()
    for q in r["ingest"]["quarantined"]:
        if q["path"] in expected:
            out.print(f"quarantined (expected: the demo's deliberately broken file) {Path(q['path']).name}",
                      markup=False, soft_wrap=True)
        else:
            out.print(f"QUARANTINED {q['path']}: {q['reason']}", markup=False, soft_wrap=True)
    for x in r["ingest"].get("failed") or []:
        out.print(f"FAILED    {x['path']}: {x['reason']}", markup=False, soft_wrap=True)
    if not _state.verbose:
        for x in r["render"]["failed"]:
            out.print(f"FAILED    {x['asset_id']}  {x.get('name', '')}: {x['reason']}", markup=False, soft_wrap=True)
        for x in r["upload"]["failed"]:
            out.print(f"FAILED    {x['key']}: {x['reason']}", markup=False, soft_wrap=True)
    if r["packet"].get("hosted_error"):
        out.print(f"hosted copy not published: {r['packet']['hosted_error']}", markup=False, soft_wrap=True)
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
    ws = _workspace(None)
    start_prefect()  # boots while the footage is made
    folder = (out_dir or ws.home / "demo-footage").absolute()
    footage = make_demo_footage(ws.film, folder, console=err)
    result, stages = _run_pipeline([str(folder)], jobs=jobs, as_of=day, film_file=ws.film_file)
    expected = {str(p) for p in footage.broken}
    _print_pipeline(result, stages, expected)
    unexpected = [q for q in result["ingest"]["quarantined"] if q["path"] not in expected]
    # Last on the terminal: where to open the packet.
    err.print(f"Mở hồ sơ xem xét / open the review packet: {result['packet']['path']}", markup=False, soft_wrap=True)
    if unexpected or result["render"]["failed"] or result["upload"]["failed"]:
        raise typer.Exit(EXIT_PARTIAL)


# ---------------------------------------------------------------- status / show
@app.command()
def status(as_of: AsOfOpt = None, film: FilmOpt = None, as_json: JsonOpt = False) -> None:
    """Where each theme and scene stands against the milestones (no Prefect needed)."""
    from review.status import status_report, status_table

    from .review_steps import review_notes
    from .steps import clip_records

    day = _parse_date(as_of)
    ws = _workspace(film)
    report = status_report(ws.film, clip_records(ws), day, review_notes(ws))
    if as_json:
        _emit(report, True, lambda r: None)
    else:
        out.print(status_table(report))


@app.command()
def show(
    asset_id: Annotated[str, typer.Argument(help="Asset id (or its first characters).")],
    film: FilmOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The ledger's record of one asset: the master, its proxy (QC included) and where it is stored."""
    from .steps import asset_record

    ws = _workspace(film)
    matches = [a for a in ws.ledger.assets() if a.asset_id.startswith(asset_id)]
    if len(matches) != 1:
        hint = "give more characters of the id" if matches else "`docfilm status` lists the scenes' assets"
        _fail(EXIT_INPUT, f"{asset_id!r} matches {len(matches)} assets in the ledger ({hint})")
    record = asset_record(ws, matches[0])
    _emit(record.to_json(), as_json, _print_show)


def _print_show(r: dict[str, Any]) -> None:
    def row(label: str, value: Any) -> None:
        out.print(f"{label:<14}{value}", markup=False, soft_wrap=True)

    row("asset", f"{r['asset_id']}  {r['name']}")
    row("kind", f"{r['kind']}  {r['width'] or '-'}x{r['height'] or '-'}  {r['fps'] or '-'} fps  "
        f"{r['duration_frames'] or '-'} frames  start {r['start_timecode'] or '-'}")
    row("scene", f"{r['scene'] or '-'}  shot {r['shot'] or '-'}")
    row("master", r["library_path"])
    row("sha256", r["sha256"])
    for path in r["sightings"]:
        row("seen at", path)
    p = r["proxy"]
    if p is None:
        row("proxy", "not rendered under the current profile")
    else:
        row("proxy", f"{p['state']}  {p['path'] or p['reason'] or ''}")
        if p["poster"]:
            row("poster", p["poster"])
        qc = p["qc_summary"]
        row("QC", ("flagged: " + ", ".join(str(f) for f in qc["flags"])) if qc["flagged"] else "no flags")
    for o in r["stored"]:
        row(f"stored {o['role']}", f"{o['url']} at {o['endpoint']}  {o['bytes']} bytes"
            + ("" if o["current"] else "  (an earlier render)"))
    if not r["stored"]:
        row("stored", "not uploaded")


@app.command()
def serve() -> None:
    """Start the embedded S3 (SeaweedFS on 127.0.0.1) and keep it running until Ctrl-C."""
    from delivery.seaweed import serve_forever

    serve_forever(console=err)


@app.command()
def verify(film: FilmOpt = None, as_json: JsonOpt = False) -> None:
    """Re-hash every master against the ledger and the library's ASC MHL; report mismatched and missing files."""
    from assets_manifest.verify import verify_library

    ws = _workspace(film)
    result = verify_library(ws.ledger, ws.settings.ledger.library_dir())
    uploads = ws.ledger.uploads()
    if uploads:
        # Uploaded objects: HEAD with checksums against the ledger's Upload rows (delivery.verify).
        from delivery.verify import verify_ledger_uploads

        result["objects"] = verify_ledger_uploads(uploads)
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
