"""Importing statistics tables in the office's shape (issue 11, item 1): built with openpyxl, read back as facts."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import openpyxl
import pytest
import yaml
from cli_support import assert_no_traceback, docfilm_cli, docfilm_in_process, user_env

from figures.errors import TableShapeUnknown, TableUnreadable
from figures.importer import add_include, import_table
from figures.numbers import amount_of_cell, parse_amount
from figures.tables import cell_name, read_table
from storyboard.loader import bundled_film_path, check_film, load_film


def office_table(path: Path, *, growth_2018: object = "7,5", sheet: str = "Biểu 01") -> Path:
    """A sheet as the Department sends it: title, merged two-row header, STT, indicator, unit, years, footnotes."""
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.title = sheet
    ws.append(["MỘT SỐ CHỈ TIÊU KINH TẾ - XÃ HỘI CHỦ YẾU THÀNH PHỐ CẦN THƠ"])
    ws.merge_cells("A1:I1")
    ws.append(["(Kèm theo báo cáo của Sở Kế hoạch và Đầu tư)"])
    ws.merge_cells("A2:I2")
    ws.append(["STT", "Chỉ tiêu", "Indicator", "Đơn vị tính", "Thực hiện", None, "Sơ bộ 2017", "Ước tính 2018",
               "KH 2019"])
    ws.append([None, None, None, None, 2015, 2016, None, None, None])
    for cells in ("A3:A4", "B3:B4", "C3:C4", "D3:D4", "E3:F3", "G3:G4", "H3:H4", "I3:I4"):
        ws.merge_cells(cells)
    ws.append([1, "Tốc độ tăng trưởng GRDP", "GRDP growth", "%", "7,29", 7.12, "7,33", growth_2018, "7,5-8"])
    ws.append([2, "Thu ngân sách nhà nước", "State budget revenue", "tỷ đồng", "9.103", "9.876", "10.234,5",
               "11.191", ".."])
    ws.append([3, "Số xã đạt chuẩn nông thôn mới", None, "xã", 8, "-", 25, 30, 36])
    ws.append([None, "Ghi chú: số liệu năm 2018 là ước tính; (..) chưa có số liệu; (-) không phát sinh."])
    ws.append([None, "Nguồn: Cục Thống kê thành phố Cần Thơ."])
    book.save(path)
    return path


def test_text_numbers_the_vietnamese_way() -> None:
    assert parse_amount("7,5") is not None and str(parse_amount("7,5").value) == "7.5"  # type: ignore[union-attr]
    assert amount_of_cell("11.191").text == "11191"  # type: ignore[union-attr]
    assert amount_of_cell("1.234,5").text == "1234.5"  # type: ignore[union-attr]
    assert amount_of_cell(80.48).decimals == 2  # type: ignore[union-attr]
    assert amount_of_cell("-") is None and amount_of_cell("..") is None
    assert amount_of_cell("tăng") == "tăng"
    assert parse_amount("3,490", "en").value == 3490  # type: ignore[union-attr]
    assert parse_amount("1.847", "en").value.as_tuple().exponent == -3  # type: ignore[union-attr]
    assert cell_name(6, 3) == "D7" and cell_name(0, 26) == "AA1"


def test_merged_headers_qualifiers_and_footnotes(tmp_path: Path) -> None:
    table = read_table(office_table(tmp_path / "bieu.xlsx"))
    assert table.sheet == "Biểu 01"
    assert table.sha256 == hashlib.sha256((tmp_path / "bieu.xlsx").read_bytes()).hexdigest()
    got = {(f.label_vi, f.year): (f.value, f.unit, f.status, f.cell) for f in table.figures}
    assert got[("Tốc độ tăng trưởng GRDP", 2015)] == ("7.29", "%", "actual", "E5")
    assert got[("Tốc độ tăng trưởng GRDP", 2016)] == ("7.12", "%", "actual", "F5")  # merged "Thực hiện"
    assert got[("Tốc độ tăng trưởng GRDP", 2017)] == ("7.33", "%", "preliminary", "G5")
    assert got[("Tốc độ tăng trưởng GRDP", 2018)] == ("7.5", "%", "estimate", "H5")
    assert got[("Tốc độ tăng trưởng GRDP", 2019)] == ("7.5–8", "%", "target", "I5")
    assert got[("Thu ngân sách nhà nước", 2017)] == ("10234.5", "tỷ đồng", "preliminary", "G6")
    assert got[("Thu ngân sách nhà nước", 2018)][0] == "11191"
    assert ("Thu ngân sách nhà nước", 2019) not in got  # ".." not available
    assert ("Số xã đạt chuẩn nông thôn mới", 2016) not in got  # "-" none
    assert not any(label.startswith(("Ghi chú", "Nguồn")) for label, _ in got)  # footnotes are no figures
    first = table.figures[0]
    assert first.label_en == "GRDP growth" and first.column_label == "Thực hiện 2015" and first.row_label


def test_csv_reads_the_same_as_xlsx(tmp_path: Path) -> None:
    xlsx = read_table(office_table(tmp_path / "bieu.xlsx"))
    with (tmp_path / "bieu.csv").open("w", encoding="utf-8", newline="") as handle:
        book = openpyxl.load_workbook(tmp_path / "bieu.xlsx")
        sheet = book.active
        assert sheet is not None
        rows = sheet.iter_rows(values_only=True)
        csv.writer(handle).writerows([["" if v is None else v for v in row] for row in rows])
    from_csv = read_table(tmp_path / "bieu.csv")
    assert from_csv.sheet is None
    def seen(table: object) -> list[tuple[str, str, str]]:
        return [(f.cell, f.value, f.status) for f in table.figures]  # type: ignore[attr-defined]

    assert seen(from_csv) == seen(xlsx)


def _film_copy(tmp_path: Path) -> Path:
    film = tmp_path / "film" / "film.yaml"
    film.parent.mkdir()
    shutil.copy(bundled_film_path(), film)
    shutil.copytree(bundled_film_path().parent / "facts", film.parent / "facts")
    return film


def test_import_writes_facts_with_provenance_and_adds_the_include(tmp_path: Path) -> None:
    film = _film_copy(tmp_path)
    result = import_table(office_table(tmp_path / "bieu.xlsx"), film, source="Sở KH&ĐT Cần Thơ, báo cáo 5/2019",
                          url="https://skhdt.cantho.gov.vn/bao-cao", received=__import__("datetime").date(2019, 5, 20))
    assert result.facts_file == film.parent / "facts" / "so-kh-dt-can-tho-bao-cao-5-2019.yaml"
    assert result.imported == 13 and result.include_added and result.changed == []
    text = film.read_text(encoding="utf-8")
    assert "  - facts/so-kh-dt-can-tho-bao-cao-5-2019.yaml\n" in text
    assert check_film(film) == []
    loaded = load_film(film)
    assert loaded.fact("grdp-growth-2018").provenance.file == "can-tho-figures-2019.csv"  # type: ignore[union-attr]
    assert loaded.fact("grdp-growth-2018-estimate").provenance.cell == "H5"  # type: ignore[union-attr]  # ids stay unique
    mine = [f for f in loaded.facts if f.provenance and f.provenance.file == "bieu.xlsx"]
    assert len(mine) == 13
    growth = next(f for f in mine if f.provenance and f.provenance.cell == "H5")
    assert growth.provenance is not None
    assert (growth.value, growth.unit, growth.year, growth.status) == ("7.5", "%", 2018, "estimate")
    assert growth.provenance.sheet == "Biểu 01" and growth.provenance.row == "Tốc độ tăng trưởng GRDP"
    assert growth.provenance.column == "Ước tính 2018" and str(growth.provenance.received) == "2019-05-20"
    assert growth.source.url == "https://skhdt.cantho.gov.vn/bao-cao"
    assert not add_include(film, "facts/so-kh-dt-can-tho-bao-cao-5-2019.yaml")  # already there


def test_a_newer_table_reports_changed_figures_and_their_scenes(tmp_path: Path) -> None:
    film = _film_copy(tmp_path)
    env = user_env(tmp_path / "home")
    first = docfilm_in_process("facts", "import", str(office_table(tmp_path / "v1.xlsx")), "--source", "Báo cáo SKHĐT",
                        "--film", str(film), "--json", env=env)
    assert first.returncode == 0, first.stderr
    newer = docfilm_cli("facts", "import", str(office_table(tmp_path / "v2.xlsx", growth_2018="7,6")),
                        "--source", "Báo cáo SKHĐT", "--film", str(film), "--json", env=env)
    assert newer.returncode == 0, newer.stderr
    report = json.loads(newer.stdout)
    assert set(report) == {"file", "sha256", "sheet", "facts_file", "imported", "changed"}
    assert report["sheet"] == "Biểu 01" and report["imported"] == 13
    # S06 quotes 7,5 %, which the bundled table's own fact (grdp-growth-2018) sources: this one no scene
    assert report["changed"] == [{"fact": "grdp-growth-2018-estimate", "old": "7.5", "new": "7.6", "scenes": []}]
    facts = yaml.safe_load(Path(report["facts_file"]).read_text(encoding="utf-8"))["facts"]
    assert any(f["value"] == "7.6" and f["provenance"]["cell"] == "H5" for f in facts)


def test_changed_figure_names_the_scene_that_quotes_it(tmp_path: Path) -> None:
    film = _film_copy(tmp_path)
    table = film.parent / "tables" / "can-tho-figures-2019.csv"
    table.parent.mkdir()
    shutil.copy(bundled_film_path().parent / "tables" / "can-tho-figures-2019.csv", table)
    text = table.read_text(encoding="utf-8")
    assert text.count('GRDP growth,%,,,,,"7,5"') == 1
    text = text.replace('GRDP growth,%,,,,,"7,5"', 'GRDP growth,%,,,,,"7,6"')
    table.write_text(text, encoding="utf-8")
    result = import_table(table, film, source="Can Tho figures 2019", scenes_quoting={"grdp-growth-2018": ["S06"]})
    assert [(c.fact, c.old, c.new, c.scenes) for c in result.changed] == [("grdp-growth-2018", "7.5", "7.6", ["S06"])]
    assert not result.include_added


@pytest.mark.parametrize("case", ["missing", "not-a-spreadsheet", "no-sheet", "no-table", "bad-number"])
def test_unreadable_or_shapeless_tables_exit_2_and_write_nothing(tmp_path: Path, case: str) -> None:
    film = _film_copy(tmp_path)
    before = film.read_bytes()
    path = tmp_path / "t.xlsx"
    args: list[str] = []
    if case == "not-a-spreadsheet":
        path.write_bytes(b"not a zip file at all")
    elif case == "no-sheet":
        office_table(path)
        args = ["--sheet", "Biểu 99"]
    elif case == "no-table":
        book = openpyxl.Workbook()
        assert book.active is not None
        book.active.append(["Chỉ có một tiêu đề"])
        book.save(path)
    elif case == "bad-number":
        office_table(path, growth_2018="bảy phẩy năm")
    p = docfilm_in_process("facts", "import", str(path), *args, "--film", str(film), env=user_env(tmp_path / "home"))
    assert p.returncode == 2, p.stderr
    assert_no_traceback(p)
    assert str(path) in p.stderr
    if case == "no-sheet":
        assert "Biểu 99" in p.stderr and "Biểu 01" in p.stderr
    if case == "no-table":
        assert "cell A1" in p.stderr
    if case == "bad-number":
        assert "sheet 'Biểu 01'" in p.stderr and "cell H5" in p.stderr and "bảy phẩy năm" in p.stderr
    assert film.read_bytes() == before
    assert sorted(p.name for p in (film.parent / "facts").iterdir()) == ["can-tho-figures-2019.yaml"]
    with pytest.raises((TableUnreadable, TableShapeUnknown)):
        read_table(path, args[1] if args else None)


def test_a_film_with_no_facts_is_valid(tmp_path: Path) -> None:
    doc = yaml.safe_load(bundled_film_path().read_text(encoding="utf-8"))
    doc.pop("include")
    doc.pop("facts")
    for scene in doc["scenes"]:
        for shot in scene["shots"]:
            shot.pop("facts", None)
    path = tmp_path / "nofacts.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert check_film(path) == []
    assert load_film(path).facts == []
    doc["facts"] = []
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert load_film(path).facts == []


def test_problems_in_an_included_file_are_reported_at_its_line_and_column(tmp_path: Path) -> None:
    film = _film_copy(tmp_path)
    facts = film.parent / "facts" / "can-tho-figures-2019.yaml"
    lines = facts.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.strip() == "status: estimate")
    lines[at] = lines[at].replace("estimate", "guess")
    facts.write_text("".join(lines), encoding="utf-8")
    problems = check_film(film)
    assert len(problems) == 1
    problem = problems[0]
    assert (problem.file, problem.line, problem.col) == (str(facts), at + 1, lines[at].index("guess") + 1)
    assert problem.field.endswith(".status")
    (film.parent / "facts" / "can-tho-figures-2019.yaml").unlink()
    missing = check_film(film)
    assert missing and missing[0].file == str(film) and "cannot read the included facts file" in missing[0].message
    assert missing[0].field == "include[0]"


def test_export_for_the_department_and_confirm_back(tmp_path: Path) -> None:
    film = _film_copy(tmp_path)
    env = user_env(tmp_path / "home")
    out = tmp_path / "to-department.xlsx"
    p = docfilm_cli("facts", "export", "--format", "xlsx", "--out", str(out), "--film", str(film), "--json", env=env)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == {"path": str(out), "figures": 14}  # the Vietnamese texts' figures
    book = openpyxl.load_workbook(out)
    sheet = book.active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    head = rows[0]
    assert head[:3] == ("STT", "Chỉ tiêu / Indicator", "Số liệu trong phim / As stated")
    s06 = next(r for r in rows if r[2] == "80,48 triệu đồng")
    assert s06[3] == "S06" and "80,48 triệu đồng" in str(s06[4]) and s06[5] == "80.48 triệu đồng"
    assert s06[6] == "can-tho-figures-2019.csv!I11" and s06[7] == "estimate" and s06[9] is None
    at = rows.index(s06) + 1
    sheet.cell(row=at, column=10, value="đúng")
    sheet.cell(row=at, column=11, value="Nguyễn Văn A, Sở Kế hoạch và Đầu tư")
    sheet.cell(row=at, column=12, value="3/6/2019")
    back = tmp_path / "from-department.xlsx"
    book.save(back)
    p = docfilm_in_process("facts", "confirm", str(back), "--film", str(film), "--json", env=env)
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    assert report["confirmed"] == [{"fact": "grdp-per-capita-2018", "stated": "80,48 triệu đồng", "scene": "S06",
                                    "by": "Nguyễn Văn A, Sở Kế hoạch và Đầu tư", "on": "2019-06-03"}]
    assert report["rejected"] == []
    recorded = yaml.safe_load((film.parent / "facts" / "confirmations.yaml").read_text(encoding="utf-8"))
    [entry] = recorded["confirmations"]
    assert entry["from"]["sha256"] == hashlib.sha256(back.read_bytes()).hexdigest()
    assert entry["from"]["cell"] == f"J{at}" and entry["by"].startswith("Nguyễn Văn A")
    csv_out = tmp_path / "to-department.csv"
    p = docfilm_in_process("facts", "export", "--format", "csv", "--out", str(csv_out), "--film", str(film), env=env)
    assert p.returncode == 0 and csv_out.read_text(encoding="utf-8-sig").startswith("STT,")
    bad = docfilm_in_process("facts", "confirm", str(out.with_suffix(".missing.xlsx")), "--film", str(film), env=env)
    assert bad.returncode == 2
    assert_no_traceback(bad)
