"""Commands that read the ledger without Prefect: status and show."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from .application import EXIT_INPUT, AsOfOpt, FilmOpt, JsonOpt, _emit, _fail, _parse_date, _workspace, app, out

if TYPE_CHECKING:
    from review.labels import Lang

    from ..steps import AssetRecord

LangOpt = Annotated[Literal["vi", "en"] | None, typer.Option(
    "--lang", help="One language, vi or en (default: both where they fit, else vi).")]


# ---------------------------------------------------------------- status / show
@app.command()
def status(
    as_of: AsOfOpt = None,
    film: FilmOpt = None,
    as_json: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Where each theme and scene stands against the milestones, and the current cut's runtime per theme against
    planned and the film's target (no Prefect needed)."""
    from review.status import status_report, status_table

    from ..review_steps import current_cut_map, review_notes
    from ..steps import clip_records

    day = _parse_date(as_of)
    ws = _workspace(film)
    report = status_report(ws.film, clip_records(ws), day, review_notes(ws), _figure_blocks(ws, day),
                           current_cut_map(ws))
    if as_json:
        _emit(report, True, lambda r: None)
    else:
        out.print(status_table(report, lang))


def _figure_blocks(ws: Any, day: Any) -> dict[str, list[Any]]:
    """Per scene, the figures its texts state that are not sourced (they keep it from being ready)."""
    from figures.check import check_film_figures
    from review.status import FigureBlock

    blocks: dict[str, list[Any]] = {}
    # the review cut's subtitles too, once rendered: what the Board hears is what it reads
    for f in check_film_figures(ws.film_file, ws.film, as_of=day, home=ws.settings.home).not_sourced:
        blocks.setdefault(f.scene, []).append(FigureBlock(f.file, f.line, f.col, f.text, f.result))
    return blocks


@app.command()
def show(
    asset_id: Annotated[str, typer.Argument(help="Asset id (or its first characters).")],
    film: FilmOpt = None,
    as_json: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """The ledger's record of one asset: the master, its proxy (QC included) and where it is stored."""
    from ..steps import asset_record

    ws = _workspace(film)
    matches = [a for a in ws.ledger.assets() if a.asset_id.startswith(asset_id)]
    if len(matches) != 1:
        hint = "give more characters of the id" if matches else "`docfilm status` lists the scenes' assets"
        _fail(EXIT_INPUT, f"{asset_id!r} matches {len(matches)} assets in the ledger ({hint})")
    record = asset_record(ws, matches[0])
    _emit(record, as_json, lambda r: _print_show(r, lang))


def _print_show(record: AssetRecord, lang: Lang | None = None) -> None:
    """The record for a person: row names in one language, or both (the default); ids, paths and numbers as they are."""
    from review.labels import SHOW_WORDS, qc_flag_text

    def w(key: str) -> str:
        return SHOW_WORDS[key].text(lang)

    a = record.asset
    rows: list[tuple[str, str]] = [
        (w("asset"), f"{a.asset_id}  {a.name}"),
        (w("kind"), f"{a.kind}  {a.width or '-'}x{a.height or '-'}  {a.fps or '-'} fps  "
                    f"{a.duration_frames or '-'} {w('frames')}  {w('start')} {a.start_timecode or '-'}"),
        (w("scene"), f"{a.scene_id or '-'}  {w('shot')} {a.shot_id or '-'}"),
        (w("master"), a.path + (f"  ({a.master_key}, ETag {a.master_etag})" if a.master_key else "")),
        ("sha256", a.sha256),
    ]
    if a.master_quarantine:
        rows.append((w("quarantined"), a.master_quarantine))
    rows += [(w("seen_at"), path) for path in record.sightings]
    p = record.proxy
    if p is None:
        rows.append((w("proxy"), w("not_rendered")))
    else:
        rows.append((w("proxy"), f"{p.state}  {p.path or p.reason or ''}"))
        if p.poster:
            rows.append((w("poster"), p.poster))
        stored_flags = p.qc.get("flags")
        flags = [qc_flag_text(f) if isinstance(f, dict) else str(f)
                 for f in (stored_flags if isinstance(stored_flags, list) else [])]
        rows.append((w("qc"), "; ".join(flags) if flags else w("no_flags")))
    for o in record.stored:
        rows.append((f"{w('stored')} {o.role}", f"{o.url} at {o.endpoint}  {o.bytes} bytes"
                     + ("" if o.current else f"  ({w('earlier')})")))
    if not record.stored:
        rows.append((w("stored"), w("not_uploaded")))
    width = max(len(name) for name, _ in rows) + 2
    for name, value in rows:
        out.print(f"{name:<{width}}{value}", markup=False, soft_wrap=True)
