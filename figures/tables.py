"""Reading the statistics office's tables: title rows, merged headers, indicator/unit/year columns, qualifiers.

The grid comes from python-calamine (XLSX, XLS, ODS) or the csv module; this module only finds the table's
shape in it. A figure's status comes from its column's header: `Sơ bộ` preliminary, `Ước tính` / `Ước`
estimate, `Kế hoạch` / `KH` target, otherwise actual.
"""

from __future__ import annotations

import csv
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from figures.errors import TableShapeUnknown, TableUnreadable
from figures.numbers import RANGE_DASH, Amount, amount_of_cell

SPREADSHEETS = (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods")
_YEAR = re.compile(r"(?<!\d)(19\d\d|20\d\d)(?!\d)")
_COMPARISON = re.compile(r"so với|so sánh|compared|tăng/giảm|tốc độ", re.IGNORECASE)
_QUALIFIERS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?<!\w)(sơ bộ|prel\w*)(?!\w)", re.IGNORECASE), "preliminary"),
    (re.compile(r"(?<!\w)(ước tính|ước|ước thực hiện|estimate\w*|est\.)(?!\w)", re.IGNORECASE), "estimate"),
    (re.compile(r"(?<!\w)(kế hoạch|kh|mục tiêu|plan|target)(?!\w)", re.IGNORECASE), "target"),
]


@dataclass(frozen=True)
class TableFigure:
    """One figure read from a table, with the cell it came from."""

    label_vi: str
    label_en: str | None
    unit: str
    year: int
    status: str
    value: str  # canonical: dot decimal, no thousands separator; a range as `7.5–8`
    cell: str
    row_label: str
    column_label: str
    source: str | None  # the row's own source (a `Nguồn` column), when the table gives one
    as_of: date | None = None  # the row's own as-of date (a `Số liệu đến ngày` column)


@dataclass(frozen=True)
class Table:
    """The figures of one sheet of one file."""

    file: Path
    sha256: str
    sheet: str | None
    figures: list[TableFigure]


def cell_name(row: int, col: int) -> str:
    """0-based row and column → `D7`."""
    letters = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{row + 1}"


def _text(cell: Any) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    return unicodedata.normalize("NFC", str(cell)).strip()


def read_grid(path: Path, sheet: str | None) -> tuple[str | None, list[list[Any]]]:
    """The sheet's cells from A1 (the first sheet when `sheet` is None); CSV has no sheet."""
    if path.suffix.lower() == ".csv":
        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                return None, [list(row) for row in csv.reader(handle)]
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise TableUnreadable(f"{path}: cannot read the CSV file: {exc}") from exc
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types for every format problem
        raise TableUnreadable(f"{path}: cannot read it as a spreadsheet ({', '.join(SPREADSHEETS)}): {exc}") from exc
    names = list(book.sheet_names)
    if not names:
        raise TableUnreadable(f"{path}: the workbook has no sheet")
    name = sheet if sheet is not None else names[0]
    if name not in names:
        raise TableUnreadable(f"{path}: no sheet {name!r}; the sheets are: {', '.join(names)}")
    try:
        data = book.get_sheet_by_name(name)
        rows = data.to_python(skip_empty_area=False)
    except Exception as exc:
        raise TableUnreadable(f"{path}, sheet {name!r}: cannot read the sheet: {exc}") from exc
    return name, [list(row) for row in rows]


def _status(header: str) -> str:
    for pattern, status in _QUALIFIERS:
        if pattern.search(header):
            return status
    return "actual"


def _role(header: str) -> str | None:
    h = header.lower()
    if re.fullmatch(r"(stt|tt|số tt|no\.?|#)", h):
        return "number"
    if re.search(r"đơn vị|đvt|(?<!\w)unit", h):
        return "unit"
    if re.search(r"english|tiếng anh|\(en\)", h):
        return "label_en"
    if re.search(r"chỉ tiêu|indicator|nội dung|danh mục", h) and not _YEAR.search(h):
        return "label_vi"
    if re.search(r"đến ngày|tính đến|as of|ngày số liệu", h) and not _YEAR.search(h):
        return "as_of"
    if re.search(r"nguồn|source|ghi chú|note", h) and not _YEAR.search(h):
        return "source"
    if _YEAR.search(h) and not _COMPARISON.search(h):
        return "year"
    return None


def _value(cell: Any) -> Amount | None | str:
    if isinstance(cell, str) and re.fullmatch(r"\s*[\d.,]+\s*[–—-]\s*[\d.,]+\s*", cell):
        low, high = re.split(r"\s*[–—-]\s*", cell.strip())
        a, b = amount_of_cell(low), amount_of_cell(high)
        if isinstance(a, Amount) and isinstance(b, Amount):
            return Amount(a.value, a.decimals), f"{a.text}{RANGE_DASH}{b.text}"  # type: ignore[return-value]
    return amount_of_cell(cell)


def _date(cell: Any, where: str) -> date | None:
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    text = _text(cell)
    if not text:
        return None
    for form in ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, form).date()
        except ValueError:
            pass
    raise TableShapeUnknown(f"{where}: {text!r} is not a date (expected e.g. 28/5/2017)")


def read_table(path: Path, sheet: str | None = None) -> Table:
    """Every figure of a statistics table; TableUnreadable / TableShapeUnknown (naming file, sheet, cell) otherwise."""
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise TableUnreadable(f"{path}: cannot read the file: {exc.strerror or exc}") from exc
    name, grid = read_grid(path, sheet)
    where = f"{path}" + (f", sheet {name!r}" if name is not None else "")
    width = max((len(row) for row in grid), default=0)
    grid = [row + [None] * (width - len(row)) for row in grid]

    # The header starts at the first row with two or more filled cells (titles are one merged cell).
    start = next((r for r, row in enumerate(grid) if sum(1 for c in row if _text(c)) >= 2), None)
    if start is None:
        raise TableShapeUnknown(f"{where}, cell A1: no table here: no row has two or more filled cells")
    # It ends before the first row holding a number below a header that names a year.
    end = None
    for r in range(start + 1, len(grid)):
        numbers = [c for c, cell in enumerate(grid[r]) if c and isinstance(_value(cell), Amount | tuple)]
        # A row of figures has its label before its first number; a header row of years has none.
        if numbers and any(isinstance(_value(cell), str) for cell in grid[r][: numbers[0]]):
            end = r
            break
    if end is None:
        raise TableShapeUnknown(f"{where}, cell {cell_name(start, 0)}: a header but no row of figures below it")

    headers: list[str] = []
    for c in range(width):
        parts: list[str] = []
        for r in range(start, end):
            text = _text(grid[r][c])
            if not text and r < end - 1:
                # A merged header cell is stored in its first column only: carry it right, within the year columns.
                left = c - 1
                while left >= 0 and not _text(grid[r][left]) and r < end - 1:
                    left -= 1
                if left >= 0 and left != c and _YEAR.search(" ".join(_text(grid[k][c]) for k in range(r, end))):
                    text = _text(grid[r][left]) if _role(_text(grid[r][left])) not in (
                        "label_vi", "unit", "number", "label_en", "source") else ""
            if text and text not in parts:
                parts.append(text)
        headers.append(" ".join(parts))
    roles = [_role(h) for h in headers]
    labels = [c for c, role in enumerate(roles) if role == "label_vi"]
    if len(labels) > 1 and "label_en" not in roles:
        roles[labels[1]] = "label_en"  # "Chỉ tiêu" then "Indicator": the second names it in English
    if "label_vi" not in roles:
        # No header names the indicator: it is the first column holding text in the rows of figures.
        for c in range(width):
            if roles[c] is None and any(isinstance(_value(grid[r][c]), str) for r in range(end, len(grid))):
                roles[c] = "label_vi"
                break
    years = [c for c, role in enumerate(roles) if role == "year"]
    if "label_vi" not in roles or not years:
        missing = "an indicator column (Chỉ tiêu)" if "label_vi" not in roles else "a year column (2015 … 2019)"
        raise TableShapeUnknown(
            f"{where}, cell {cell_name(start, 0)}: the header rows {start + 1}–{end} have no {missing}; "
            "expected indicator, unit and year columns")
    label_col = roles.index("label_vi")
    en_col = roles.index("label_en") if "label_en" in roles else None
    unit_col = roles.index("unit") if "unit" in roles else None
    source_col = roles.index("source") if "source" in roles else None
    as_of_col = roles.index("as_of") if "as_of" in roles else None

    figures: list[TableFigure] = []
    for r in range(end, len(grid)):
        row = grid[r]
        label = _text(row[label_col])
        if not label:
            continue
        as_of = _date(row[as_of_col], f"{where}, cell {cell_name(r, as_of_col)}") if as_of_col is not None else None
        for c in years:
            parsed = _value(row[c])
            if parsed is None:
                continue  # `-` none, `..` not available
            if isinstance(parsed, str):
                if not _text(row[c]):
                    continue
                raise TableShapeUnknown(
                    f"{where}, cell {cell_name(r, c)}: {parsed!r} is not a number "
                    "(expected e.g. 7,5 or 11.191, or - / .. for none)")
            text = parsed[1] if isinstance(parsed, tuple) else parsed.text
            dated = re.search(r"\(((?:19|20)\d\d)\)", headers[c])  # "(2015) 2016–2020": set in 2015
            year = int(dated.group(1)) if dated else int(_YEAR.findall(headers[c])[-1])
            unit = _text(row[unit_col]) if unit_col is not None else ""
            figures.append(TableFigure(
                label_vi=label, label_en=_text(row[en_col]) or None if en_col is not None else None,
                unit=unit, year=year, status=_status(headers[c]), value=text, cell=cell_name(r, c),
                row_label=label, column_label=headers[c],
                source=_text(row[source_col]) or None if source_col is not None else None, as_of=as_of))
    if not figures:
        raise TableShapeUnknown(f"{where}, cell {cell_name(end, 0)}: the table has no figure under its year columns")
    return Table(path, digest, name, figures)
