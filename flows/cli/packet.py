"""Commands for the committee's review: the packet and reviewers' notes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .application import (
    EXIT_OK,
    EXIT_PARTIAL,
    AsOfOpt,
    FilmOpt,
    JsonOpt,
    _emit,
    _flows,
    _parse_date,
    _workspace,
    app,
    err,
    out,
)

if TYPE_CHECKING:
    from review.manifest import PacketCheck

    from ..results import NotesImport, PacketRun


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
        result: PacketRun = flows.packet_flow(as_of=day, film=str(ws.film_file), hosted=hosted)
    _emit(result, as_json, _print_packet)
    raise typer.Exit(EXIT_PARTIAL if result.hosted_error else EXIT_OK)


def _print_packet(r: PacketRun) -> None:
    out.print(f"packet: {r.path}\nzip:    {r.zip}\nid:     {r.packet_id} ({r.changes} changes since the "
              f"last packet, {r.notes} reviewer notes)", markup=False, soft_wrap=True)
    if r.hosted_url:
        out.print(f"hosted: {r.hosted_url}\n        (links expire {r.expires})", markup=False, soft_wrap=True)
        if r.hosted_url.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]")):
            err.print("(the embedded S3 listens on this machine only: the hosted link works here while "
                      "`docfilm serve` runs; set DOCFILM_S3_ENDPOINT_URL to share packets)", markup=False)
    if r.hosted_error:
        err.print(f"hosted copy not published: {r.hosted_error}", markup=False, soft_wrap=True)


def _verify_packet(folder: Path, as_json: bool) -> None:
    from review.manifest import verify_packet

    check = verify_packet(folder)

    def human(r: PacketCheck) -> None:
        for m in r.mismatched:
            out.print(f"MISMATCHED {m.path}: {m.reason}", markup=False, soft_wrap=True)
        for name in r.missing:
            out.print(f"MISSING    {name}", markup=False, soft_wrap=True)
        for name in r.extra:
            out.print(f"EXTRA      {name}", markup=False, soft_wrap=True)
        out.print(f"packet {r.packet_id}: {r.checked} files checked, {len(r.mismatched)} mismatched, "
                  f"{len(r.missing)} missing, {len(r.extra)} extra (ledger revision {r.ledger_revision})",
                  markup=False, soft_wrap=True)

    _emit(check, as_json, human)
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
    """Take a reviewer's exported notes into the ledger; a file damaged or changed since export is refused (exit 2).

    A note taken on the film is resolved to the scene, shot, clip and source timecode under its record timecode
    (of the cut version it was taken on); a note on a title card, slate or gap to its scene only."""
    from ..review_steps import import_notes

    ws = _workspace(film)
    ws.film  # noqa: B018
    result = import_notes(ws, file)

    def human(r: NotesImport) -> None:
        out.print(f"{r.file}: {r.notes} notes from {r.reviewer}: {r.imported} imported, "
                  f"{r.already} already in the ledger", markup=False, soft_wrap=True)
        for scene in r.scenes:
            out.print(f"  {scene.id}: {scene.review}", markup=False, soft_wrap=True)
        for n in r.on_film:
            at = n.under
            under = " · ".join(str(p) for p in (at.shot, at.asset_id, at.source_timecode) if p) if at else ""
            out.print(f"  film v{n.cut_version} {at.record_timecode if at else None}: {at.scene if at else None}"
                      f"{' · ' + under if under else ' (' + str(at.kind if at else None) + ')'}", markup=False,
                      soft_wrap=True)

    _emit(result, as_json, human)
