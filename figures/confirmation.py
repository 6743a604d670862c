"""The confirmation table sent back to the Department (`facts export`) and its return (`facts confirm`).

One row per figure the film states in Vietnamese (narration, titles, graphics): the indicator, the value as
stated, scene, sentence, the fact's value, its source cell and status, and empty columns for the Department
to confirm. Reading it back records who confirmed what, and when, in `facts/confirmations.yaml` beside the film
(written whole to a temporary name and renamed).
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from figures.check import CheckReport
from figures.errors import TableShapeUnknown, TableUnreadable
from figures.importer import FACTS_DIR, _write_atomic
from figures.tables import cell_name, read_grid
from storyboard.models import Film

HEADER = ["STT", "Chỉ tiêu / Indicator", "Số liệu trong phim / As stated", "Cảnh / Scene", "Câu / Sentence",
          "Số liệu của Sở / Fact value", "Ô nguồn / Source cell", "Loại / Status", "Mã số liệu / Fact id",
          "Xác nhận (đúng/sai) / Confirmed (yes/no)", "Người xác nhận / Confirmed by", "Ngày / Date",
          "Ghi chú / Note"]
CONFIRMATIONS = "confirmations.yaml"
_YES = {"đúng", "dung", "yes", "y", "x", "ok", "có", "co", "đồng ý", "confirmed", "true", "1"}
_NO = {"sai", "no", "n", "không", "khong", "false", "0", "không đúng"}


def export_rows(film: Film, report: CheckReport) -> list[list[str]]:
    """The confirmation table's rows (header first): every figure stated in Vietnamese, in film order."""
    facts = {fact.id: fact for fact in film.facts}
    rows: list[list[str]] = [HEADER]
    for figure in report.figures:
        if not figure.field.endswith(".vi"):
            continue
        fact = facts.get(figure.fact) if figure.fact else None
        cell = ""
        if fact is not None and fact.provenance is not None:
            cell = f"{fact.provenance.sheet or fact.provenance.file}!{fact.provenance.cell}"
        rows.append([
            str(len(rows)), fact.label.vi if fact else "", figure.text, figure.scene, figure.sentence,
            f"{fact.value} {fact.unit}".strip() if fact else "", cell, fact.status if fact else figure.result,
            fact.id if fact else "", "", "", "", "",
        ])
    return rows


def write_table(rows: list[list[str]], out: Path, fmt: str) -> None:
    """Write the rows as XLSX (openpyxl) or CSV (UTF-8 with BOM, which Excel opens as Unicode)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    if fmt == "csv":
        with tmp.open("w", encoding="utf-8-sig", newline="") as handle:
            csv.writer(handle).writerows(rows)
    else:
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.title = "Xác nhận số liệu"
        for row in rows:
            sheet.append(row)
        book.save(tmp)
    tmp.replace(out)


@dataclass(frozen=True)
class Confirmation:
    """The Department's answer about one figure."""

    fact: str
    stated: str
    scene: str
    confirmed: bool
    by: str
    on: date | None
    note: str
    cell: str  # of the answer in the returned file


def read_confirmations(path: Path) -> tuple[str, list[Confirmation]]:
    """The returned table's answers (rows whose confirmation column is filled) and the file's SHA-256."""
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise TableUnreadable(f"{path}: cannot read the file: {exc.strerror or exc}") from exc
    sheet, grid = read_grid(path, None)
    where = f"{path}" + (f", sheet {sheet!r}" if sheet else "")
    start = next((r for r, row in enumerate(grid) if row and str(row[0]).strip() == "STT"), None)
    if start is None or len(grid[start]) < len(HEADER):
        raise TableShapeUnknown(f"{where}, cell A1: not a confirmation table from `docfilm facts export`")
    answers: list[Confirmation] = []
    col = HEADER.index("Xác nhận (đúng/sai) / Confirmed (yes/no)")
    for r in range(start + 1, len(grid)):
        row = [("" if c is None else str(c)).strip() for c in grid[r]] + [""] * len(HEADER)
        answer = row[col].lower()
        if not answer:
            continue
        if answer not in _YES | _NO:
            raise TableShapeUnknown(f"{where}, cell {cell_name(r, col)}: {row[col]!r}: write đúng or sai (yes or no)")
        when = grid[r][col + 2] if len(grid[r]) > col + 2 else None
        answers.append(Confirmation(
            fact=row[8], stated=row[2], scene=row[3], confirmed=answer in _YES, by=row[col + 1],
            on=_day(when, f"{where}, cell {cell_name(r, col + 2)}"), note=row[col + 3], cell=cell_name(r, col)))
    return digest, answers


def _day(value: Any, where: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    for form in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(str(value).strip(), form).date()
        except ValueError:
            pass
    raise TableShapeUnknown(f"{where}: {value!r} is not a date (expected e.g. 3/6/2019)")


def record_confirmations(film_file: Path, path: Path, digest: str, answers: list[Confirmation]) -> Path:
    """Add the answers to `facts/confirmations.yaml` beside the film (earlier answers kept); its path."""
    target = film_file.parent / FACTS_DIR / CONFIRMATIONS
    old: list[Any] = []
    if target.exists():
        data = yaml.safe_load(target.read_text(encoding="utf-8")) or {}
        old = list(data.get("confirmations") or [])
    recorded = datetime.now(UTC).isoformat(timespec="seconds")
    new = [{"fact": a.fact or None, "stated": a.stated, "scene": a.scene, "confirmed": a.confirmed,
            "by": a.by or None, "on": a.on, "note": a.note or None,
            "from": {"file": path.name, "sha256": digest, "cell": a.cell}, "recorded": recorded} for a in answers]
    text = ("# The Department's confirmations of the film's figures, recorded by `docfilm facts confirm`.\n"
            + yaml.safe_dump({"confirmations": old + new}, allow_unicode=True, sort_keys=False, width=110))
    _write_atomic(target, text)
    return target
