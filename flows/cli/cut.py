"""`docfilm cut`: the film as cut — the assembled string-out or the editor's timeline, versioned in the ledger."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from .application import EXIT_PARTIAL, FilmOpt, JsonOpt, _emit, _flows, _workspace, app, err, out

cut_app = typer.Typer(help="The film as cut: string-out, the editor's import, versions in the ledger.",
                      no_args_is_help=True)
app.add_typer(cut_app, name="cut")

if TYPE_CHECKING:
    from ..results import CutAssembly, CutImport, CutRender, Unresolved


@cut_app.command("assemble")
def cut_assemble(film: FilmOpt = None, as_json: JsonOpt = False) -> None:
    """The string-out: scenes in storyboard order, a title card each, then each shot's chosen take."""
    from ..cut_steps import assemble_step

    report = assemble_step(_workspace(film))
    _emit(report, as_json, _print_assemble)


def _print_assemble(r: CutAssembly) -> None:
    state = "new version" if r.new else "unchanged"
    out.print(f"cut v{r.version} ({state}): {r.path}", markup=False, soft_wrap=True)
    out.print(f"{len(r.scenes)} scenes, {r.events} takes, {r.slates} slates, {r.frames} frames at {r.fps} fps",
              markup=False)


@cut_app.command("import")
def cut_import(
    file: Annotated[Path, typer.Argument(help="The editor's timeline: .otio, .edl, FCP 7 .xml, .fcpxml or .aaf.",
                                         dir_okay=False)],
    rate: Annotated[str | None, typer.Option(
        "--rate", help="The EDL's frame rate (EDLs carry none): 25, 24000/1001, 23.976, 29.97, 59.94… "
        "(default: the film's fps).")] = None,
    film: FilmOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Take the editor's timeline as the current cut, each event conformed to a ledger asset (exit 1 when some
    cannot be: each is kept as a missing-media slate and listed)."""
    from ..cut_steps import import_step

    report = import_step(_workspace(film), file, rate)
    _emit(report, as_json, _print_import)
    if report.failed:
        raise typer.Exit(EXIT_PARTIAL)


def _print_import(r: CutImport) -> None:
    state = "new version" if r.new else "unchanged"
    out.print(f"cut v{r.version} ({state}) from {r.source}: {r.path}", markup=False, soft_wrap=True)
    out.print(f"{len(r.resolved) + len(r.unresolved)} events, {len(r.resolved)} conformed, {len(r.unresolved)} not; "
              f"{r.frames} frames at {r.fps} fps", markup=False)
    _print_unresolved(r.unresolved)


def _print_unresolved(unresolved: tuple[Unresolved, ...]) -> None:
    for u in unresolved:
        out.print(f"  event {u.event:03d} {u.name}: {u.reason}", markup=False, soft_wrap=True)


@cut_app.command("export")
def cut_export(
    fmt: Annotated[str, typer.Option("--format", help="otio, edl (CMX 3600, Avid style) or fcp7xml.")] = "otio",
    out_file: Annotated[Path | None, typer.Option(
        "--out", help="File to write (default: DOCFILM_HOME/exports/<film>-v<version>.<ext>).", dir_okay=False)] = None,
    film: FilmOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The current cut relinked to the masters' library paths, for the editor's NLE."""
    from editorial.catalog import video_assets
    from editorial.errors import UnknownFormat
    from editorial.export import SUFFIXES, export_cut, relinked
    from editorial.versions import current_cut, write_new_file

    if fmt not in SUFFIXES:
        raise UnknownFormat(f"--format {fmt!r}: choose one of {', '.join(SUFFIXES)}")
    ws = _workspace(film)
    film_id = ws.film.film.id
    version, timeline = current_cut(ws.ledger, film_id)
    assets = {a.asset_id: a for a in video_assets(ws.ledger)}
    fps = _timeline_fps(timeline, Fraction(ws.film.film.fps))
    text = export_cut(relinked(timeline, assets), fmt, fps)
    target = out_file or ws.home / "exports" / f"{film_id}-v{version.version}{SUFFIXES[fmt]}"
    write_new_file(target, text.encode("utf-8"))
    report = {"path": str(target), "format": fmt, "version": version.version, "cut": str(version.path),
              "fps": f"{fps.numerator}/{fps.denominator}"}
    _emit(report, as_json, lambda r: out.print(f"cut v{r['version']} as {r['format']}: {r['path']}",
                                               markup=False, soft_wrap=True))


def _timeline_fps(timeline: Any, film_fps: Fraction) -> Fraction:
    from editorial.rates import exact_rate

    start = timeline.global_start_time
    return exact_rate(start.rate) if start is not None else film_fps


@cut_app.command("render")
def cut_render(film: FilmOpt = None, as_json: JsonOpt = False) -> None:
    """The review cut: one MP4 from the proxies with the record and source timecode burnt in, chapters per
    scene, narration subtitles (vi, en), a poster and QC; only the scenes whose segments changed are rendered.
    Takes without a proxy stop it (exit 1, listed): run `docfilm render` first."""
    from ..cut_steps import review_cut_staleness, review_cut_step

    ws = _workspace(film)
    staleness = review_cut_staleness(ws)
    if not staleness.stale:
        # Decided from the ledger and the files, without Prefect or ffmpeg (the cut-render flow ends SKIPPED
        # the same way); the report is read back from what is on disk.
        report = review_cut_step(ws)  # before the first cut: NoCut, saying how to make one
        err.print("review cut up to date (SKIPPED)")
    else:
        with _flows() as flows:
            state = flows.cut_render_flow(film=str(ws.film_file), return_state=True)
        report = cast("CutRender", state.result())
    _emit(report, as_json, _print_render)


def _print_render(r: CutRender) -> None:
    redone = sum(1 for s in r.segments if s.rendered)
    out.print(f"review cut: {r.path}", markup=False, soft_wrap=True)
    loud = r.qc.loudness
    out.print(f"{r.frames} frames at {r.fps} fps from {r.start_timecode}; {len(r.segments)} segments, "
              f"{redone} rendered; {loud.integrated_lufs} LUFS, true peak {loud.true_peak_dbtp} dBTP; "
              f"runtime {'within' if r.qc.runtime_ok else 'OVER'} target", markup=False)
    _print_unresolved(r.unresolved)
