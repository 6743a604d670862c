"""`docfilm facts`: the Department's tables imported as facts, and the check of every figure the film states."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .application import (
    EXIT_INPUT,
    EXIT_PARTIAL,
    AsOfOpt,
    FilmOpt,
    JsonOpt,
    _emit,
    _fail,
    _film_file,
    _parse_date,
    _settings,
    app,
    err,
    out,
)

if TYPE_CHECKING:
    from figures.check import CheckReport
    from figures.importer import ImportResult

facts_app = typer.Typer(help="The Department's figures: import tables as facts, check every figure.",
                        no_args_is_help=True)
app.add_typer(facts_app, name="facts")


@facts_app.command("import")
def facts_import(
    file: Annotated[Path, typer.Argument(help="Statistics table: XLSX, XLS, ODS or CSV.")],
    sheet: Annotated[str | None, typer.Option("--sheet", help="Sheet to read (default: the first).")] = None,
    source: Annotated[str | None, typer.Option(
        "--source", help="Source title; also names facts/<source>.yaml (default: the file's name).")] = None,
    url: Annotated[str | None, typer.Option("--url", help="Where the source is published.")] = None,
    received: Annotated[str | None, typer.Option(
        "--received", help="Date the table was received, YYYY-MM-DD.")] = None,
    film: FilmOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import a table's figures as facts (facts/<source>.yaml beside the film, included by it); report changes."""
    from ..steps_facts import import_facts

    day = None
    if received:
        try:
            day = date.fromisoformat(received)
        except ValueError:
            _fail(EXIT_INPUT, f"--received {received!r}: expected a date as YYYY-MM-DD")
    film_path = _film_file(film)
    result = import_facts(file, film_path, sheet=sheet, source=source, url=url, received=day)
    _emit(result, as_json, lambda r: _print_import(r, film_path))


def _print_import(r: ImportResult, film_path: Path) -> None:
    out.print(f"{r.imported} facts from {r.file}" + (f" (sheet {r.sheet})" if r.sheet else "")
              + f" → {r.facts_file}", markup=False, soft_wrap=True)
    for c in r.changed:
        scenes = ", ".join(c.scenes) or "no scene"
        out.print(f"changed  {c.fact}: {c.old} → {c.new}  (quoted in {scenes})", markup=False, soft_wrap=True)
    if r.include_added:
        err.print(f"added the include to {film_path}")


@facts_app.command("check")
def facts_check(
    as_of: AsOfOpt = None,
    film: FilmOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every figure the film states, as FILE:LINE:COL, checked against its facts (exit 1 when any is not sourced)."""
    from figures.check import check_film_figures

    day = _parse_date(as_of) if as_of else None
    report = check_film_figures(_film_file(film), as_of=day, home=_settings().home)
    _emit(report, as_json, _print_check)
    if report.not_sourced:
        raise typer.Exit(EXIT_PARTIAL)


def _print_check(report: CheckReport) -> None:
    for figure in report.figures:
        out.print(figure.format(), markup=False, soft_wrap=True)
    counts = ", ".join(f"{n} {result}" for result, n in report.counts.items() if n)
    err.print(f"{len(report.figures)} figure(s): {counts or 'none'}")


@facts_app.command("export")
def facts_export(
    fmt: Annotated[str, typer.Option("--format", help="xlsx or csv.")] = "xlsx",
    out_file: Annotated[Path | None, typer.Option(
        "--out", help="File to write (default: <film id>-figures.<format> in the current folder).")] = None,
    film: FilmOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The confirmation table for the Department: one row per figure the film states, a column to confirm it."""
    from figures.check import check_film_figures
    from figures.confirmation import export_rows, write_table
    from storyboard.loader import load_film

    if fmt not in ("xlsx", "csv"):
        _fail(EXIT_INPUT, f"--format {fmt!r}: expected xlsx or csv")
    film_path = _film_file(film)
    loaded = load_film(film_path)
    rows = export_rows(loaded, check_film_figures(film_path, loaded))
    out_path = out_file or Path(f"{loaded.film.id}-figures.{fmt}")
    write_table(rows, out_path, fmt)
    _emit({"path": str(out_path), "figures": len(rows) - 1}, as_json,
          lambda r: out.print(f"{r['figures']} figures → {r['path']}", markup=False, soft_wrap=True))


@facts_app.command("confirm")
def facts_confirm(
    file: Annotated[Path, typer.Argument(help="The confirmation table returned by the Department.")],
    film: FilmOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record the Department's confirmations (who confirmed what, and when) in facts/confirmations.yaml."""
    from figures.confirmation import read_confirmations, record_confirmations

    digest, answers = read_confirmations(file)
    target = record_confirmations(_film_file(film), file, digest, answers)
    report = {"file": str(file), "sha256": digest, "recorded": str(target),
              "confirmed": [{"fact": a.fact, "stated": a.stated, "scene": a.scene, "by": a.by,
                             "on": a.on.isoformat() if a.on else None} for a in answers if a.confirmed],
              "rejected": [{"fact": a.fact, "stated": a.stated, "scene": a.scene, "by": a.by, "note": a.note}
                           for a in answers if not a.confirmed]}
    _emit(report, as_json, lambda r: out.print(
        f"{len(r['confirmed'])} confirmed, {len(r['rejected'])} rejected → {r['recorded']}", markup=False))
