"""Finding and checking every figure the film states (issue 11, items 2 and 3)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import date
from fractions import Fraction
from pathlib import Path

import pytest
from cli_support import assert_no_traceback, docfilm_cli, docfilm_in_process, user_env
from film_support import bundled_film_copy, edit_figure

from figures.check import FactIndex, _most_shared, check_film_figures
from figures.mentions import find_mentions
from storyboard.loader import bundled_film_path
from storyboard.models import Fact

S06_VI = ("Năm 2018, tăng trưởng GRDP của thành phố ước đạt 7,5%; GRDP bình quân đầu người ước 80,48 triệu đồng, "
          "tương đương 3.490 đô la Mỹ. Thu ngân sách nhà nước ước đạt 11.191 tỷ đồng, bằng 101% kế hoạch.")


def texts(text: str, lang: str = "vi") -> list[str]:
    return [m.text for m in find_mentions(text, lang)]


# --- number forms and units -------------------------------------------------------------------------------


def test_vietnamese_number_forms_and_units() -> None:
    found = find_mentions(S06_VI, "vi")
    assert [m.text for m in found] == ["7,5%", "80,48 triệu đồng", "3.490 đô la Mỹ", "11.191 tỷ đồng", "101%"]
    assert [str(m.amount.value) for m in found] == ["7.5", "80.48", "3490", "11191", "101"]
    assert [m.unit.kind for m in found] == ["percent", "VND", "USD", "VND", "percent"]
    assert found[1].unit.scale == 10**6 and found[3].unit.scale == 10**9
    assert texts("đạt 1.234,5 ha, 12 km đường, 3.500 người, 1.200 hộ, 36 xã và 2.000 lượt khách") == [
        "1.234,5 ha", "12 km", "3.500 người", "1.200 hộ", "36 xã", "2.000 lượt"]
    assert texts("xuất khẩu 1.847 triệu USD") == ["1.847 triệu USD"]


def test_english_number_forms_and_units() -> None:
    found = find_mentions("GRDP grew by 7.5 %, about US$3,490 a head; revenue 11,191 billion dong.", "en")
    assert [m.text for m in found] == ["7.5 %", "US$3,490", "11,191 billion dong"]
    assert [str(m.amount.value) for m in found] == ["7.5", "3490", "11191"]
    assert found[1].unit.kind == "USD" and found[2].unit.scale == 10**9
    assert texts("exports of US$1.847 billion", "en") == ["US$1.847 billion"]


def test_ranges() -> None:
    [vi] = find_mentions("mục tiêu tăng trưởng bình quân 7,5–8% mỗi năm", "vi")
    assert (str(vi.amount.value), str(vi.high.value) if vi.high else None) == ("7.5", "8")
    [en] = find_mentions("average growth of 7.5-8 % a year", "en")
    assert en.high is not None and en.text == "7.5-8 %"


# --- what is not a figure: each rule ----------------------------------------------------------------------


def test_years_used_as_dates_are_not_figures() -> None:
    assert texts("Năm 2018, nhiệm kỳ 2015–2020 và 2020–2025") == []
    assert texts("In 2018, by mid-2017, the 2015-2020 term", "en") == []


def test_ordinals_and_names_are_not_figures() -> None:
    assert texts("Đại hội lần thứ XIV, Nghị quyết Đại hội lần thứ 14") == []
    assert texts("gắn với thực hiện Chỉ thị 05 của Bộ Chính trị") == []
    assert texts("Nghị quyết Trung ương 4 khóa XII; khóa 12; Nghị quyết 13") == []
    assert texts("Công văn 1293-CV/TU; Nghị quyết TW4") == []
    assert texts("the Politburo's Directive 05, Resolution 13, the 13th Congress", "en") == []


def test_dates_and_times_are_not_figures() -> None:
    assert texts("Tính đến ngày 28/5/2017, khởi công tháng 01/2018, ngày 14 tháng 7") == []
    assert texts("6 tháng đầu năm 2017, lúc 14:30, 8 giờ sáng, 2019-05-31") == []
    assert texts("By 28 May 2017, at 9:30, begun in January 2018", "en") == []


def test_figures_next_to_not_figures_are_still_found() -> None:
    assert texts("Tính đến ngày 28/5/2017, Đảng bộ đã kết nạp 1.614 đảng viên mới.") == ["1.614"]
    assert texts("Sáu tháng đầu năm 2017 xảy ra 160 vụ, giảm 14 vụ") == ["160 vụ", "14 vụ"]


def test_year_from_the_sentence_else_the_scene() -> None:
    found = find_mentions(
        "Tỷ lệ hộ nghèo giảm từ 5,12% năm 2015 xuống 3,21% vào giữa năm 2017 và ước còn 1,55% năm 2018.")
    assert [m.year for m in found] == [2015, 2017, 2018]
    s06 = find_mentions(S06_VI)
    assert [m.year for m in s06] == [2018, None, None, None, None]  # the clauses after "Năm 2018, …;" name none
    report = check_film_figures(bundled_film_path())
    per_head = next(f for f in report.figures if f.text == "80,48 triệu đồng")
    assert per_head.year == 2018 and per_head.fact == "grdp-per-capita-2018"
    revenue = next(f for f in report.figures if f.text == "11.191 tỷ đồng")
    assert revenue.year == 2018  # its sentence names no year: the scene's


# --- the bundled film -------------------------------------------------------------------------------------


def test_every_figure_of_s06_is_found_and_linked_to_its_fact() -> None:
    report = check_film_figures(bundled_film_path())
    s06 = [(f.text, f.result, f.fact, f.expected) for f in report.figures if f.scene == "S06"]
    assert s06 == [
        ("7,5%", "sourced", "grdp-growth-2018", 7.5),
        ("80,48 triệu đồng", "sourced", "grdp-per-capita-2018", 80.48),
        ("3.490 đô la Mỹ", "sourced", "grdp-per-capita-us-dollars-2018", 3490.0),
        ("11.191 tỷ đồng", "sourced", "state-budget-revenue-2018", 11191.0),
        ("101%", "sourced", "state-budget-revenue-against-plan-2018", 101.0),
        ("7.5 %", "sourced", "grdp-growth-2018", 7.5),
        ("80.48 million dong", "sourced", "grdp-per-capita-2018", 80.48),
        ("US$3,490", "sourced", "grdp-per-capita-us-dollars-2018", 3490.0),
        ("11,191 billion dong", "sourced", "state-budget-revenue-2018", 11191.0),
        ("101 %", "sourced", "state-budget-revenue-against-plan-2018", 101.0),
    ]
    assert report.counts["sourced"] == len(report.figures) >= 28
    lines = bundled_film_path().read_text(encoding="utf-8").splitlines()
    for figure in report.figures:
        assert lines[figure.line - 1][figure.col - 1:].startswith(figure.text.split()[0]), figure


def test_an_edited_figure_contradicts_at_its_line_and_column(tmp_path: Path) -> None:
    film = bundled_film_copy(tmp_path)
    line, col = edit_figure(film, "GRDP bình quân đầu người ước 80,48", "80,48", "82,15")
    p = docfilm_in_process("facts", "check", "--film", str(film), "--json", env=user_env(tmp_path / "home"))
    assert p.returncode == 1, p.stderr
    report = json.loads(p.stdout)
    assert set(report) == {"figures", "counts"}
    bad = [f for f in report["figures"] if f["result"] != "sourced"]
    assert bad == [{
        "file": str(film), "line": line, "col": col, "text": "82,15 triệu đồng", "scene": "S06",
        "value": 82.15, "unit": "triệu đồng", "year": 2018, "result": "contradicts",
        "fact": "grdp-per-capita-2018", "expected": 80.48,
    }]
    assert report["counts"]["contradicts"] == 1
    human = docfilm_cli("facts", "check", "--film", str(film), env=user_env(tmp_path / "home"))
    assert f"{film}:{line}:{col}: scenes[5].narration.vi: figure '82,15 triệu đồng': contradicts" in human.stdout


def _edit(film: Path, old: str, new: str) -> None:
    text = film.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    film.write_text(text.replace(old, new), encoding="utf-8")


def test_unsourced_status_mismatch_and_not_yet_known(tmp_path: Path) -> None:
    film = bundled_film_copy(tmp_path)
    _edit(film, "Thu ngân sách nhà nước ước đạt 11.191 tỷ đồng, bằng 101% kế hoạch.",
          "Thu ngân sách nhà nước đạt 11.191 tỷ đồng, bằng 101% so với năm trước, thu hút 4.321 lượt khách.")
    report = check_film_figures(film)
    got = {f.text: (f.result, f.fact) for f in report.figures if f.field == "scenes[5].narration.vi"}
    # stated as achieved ("đạt", no "ước"): the fact is an estimate
    assert got["11.191 tỷ đồng"] == ("status-mismatch", "state-budget-revenue-2018")
    assert got["4.321 lượt"] == ("unsourced", None)
    before = check_film_figures(bundled_film_path(), as_of=date(2017, 6, 30))
    poverty = [f for f in before.figures if f.text in ("5,12%", "3,21%", "7,5%")]
    # the poverty table is dated 14 July 2017; 2018 estimates were not known in June 2017
    assert {f.text: f.result for f in poverty} == {"5,12%": "not-yet-known", "3,21%": "not-yet-known",
                                                    "7,5%": "not-yet-known"}
    may_2019 = check_film_figures(bundled_film_path(), as_of=date(2019, 5, 31))
    assert may_2019.counts["sourced"] == len(may_2019.figures)


def test_matching_uses_every_fact_of_the_film_not_only_the_shots(tmp_path: Path) -> None:
    film = bundled_film_copy(tmp_path)
    _edit(film, "facts: [public-order-crimes-first-half-2017, public-order-crimes-decrease-first-half-2017, "
                "crimes-solved-first-half-2017]", "facts: []")
    s13 = [f for f in check_film_figures(film).figures if f.scene == "S13"]
    assert s13 and all(f.result == "sourced" for f in s13)


def test_precision_shown_matches_a_longer_fact(tmp_path: Path) -> None:
    film = bundled_film_copy(tmp_path)
    _edit(film, "aiming for average GRDP growth of 7.5–8 % a year.",
          "aiming for average GRDP growth of 7.5–8 % a year, and an estimated 7.5 % was reached by 2020.")
    found = [f for f in check_film_figures(film).figures if f.text == "7.5 %" and f.scene == "S01"]
    assert [(f.result, f.fact) for f in found] == [("sourced", "grdp-growth-2016-2020-average-2020")]  # 7.53


# --- the CLI, storyboard check and status ----------------------------------------------------------------


def test_storyboard_check_warns_and_exits_0(tmp_path: Path) -> None:
    film = bundled_film_copy(tmp_path)
    _edit(film, "kết nạp 1.614 đảng viên mới", "kết nạp 1.641 đảng viên mới")
    p = docfilm_cli("storyboard", "check", str(film), env=user_env(tmp_path / "home"))
    assert p.returncode == 0, p.stderr
    assert_no_traceback(p)
    assert "figure '1.641': contradicts" in p.stdout and "(warning)" in p.stdout
    assert "1 warning(s)" in p.stderr
    facts = docfilm_in_process("facts", "check", "--film", str(film), env=user_env(tmp_path / "home"))
    assert facts.returncode == 1


def test_status_names_the_figure_that_blocks_a_scene(tmp_path: Path) -> None:
    film = bundled_film_copy(tmp_path)
    _edit(film, "GRDP bình quân đầu người ước 80,48 triệu", "GRDP bình quân đầu người ước 82,15 triệu")
    p = docfilm_in_process("status", "--film", str(film), "--json", env=user_env(tmp_path / "home"))
    assert p.returncode == 0, p.stderr
    scenes = {s["id"]: s for s in json.loads(p.stdout)["scenes"]}
    [block] = scenes["S06"]["blocked_by"]
    assert set(block) == {"file", "line", "col", "text", "result"}
    assert (block["text"], block["result"], block["file"]) == ("82,15 triệu đồng", "contradicts", str(film))
    assert scenes["S06"]["ready"] is False
    assert scenes["S05"]["blocked_by"] == [] and "notes" in scenes["S05"] and "review" in scenes["S05"]


def test_facts_check_does_not_import_prefect(tmp_path: Path) -> None:
    # its speed is bench/facts.py's to show (no timed tests)
    code = (
        "import sys; from pathlib import Path; from figures.check import check_film_figures; "
        "from storyboard.loader import bundled_film_path; "
        f"r = check_film_figures(bundled_film_path(), home=Path({str(tmp_path)!r})); "
        "assert r.figures; assert 'prefect' not in sys.modules, 'prefect imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


# --- the review cut's subtitles ---------------------------------------------------------------------------


def _write_cut_texts(film_path: Path, home: Path, scenes: tuple[str, ...] = ("S05", "S06", "S07")) -> Path:
    """The chapters and subtitles `cut render` writes for a cut of these scenes (title cards, 4 s each)."""
    import opentimelineio as otio

    from editorial.assemble import title_card
    from editorial.paths import review_dir
    from editorial.review import write_cut_texts
    from editorial.segments import plan_cut
    from storyboard.loader import load_film

    film = load_film(film_path)
    rate = Fraction(film.film.fps)
    by_id = {s.id: s for s in film.scenes}
    timeline = otio.schema.Timeline(name="cut")
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    for scene in scenes:
        track.append(title_card(by_id[scene], int(rate * 4), rate))
    plan = plan_cut(timeline, film.film.id, rate, {}, {}, {}, "profile")
    folder = review_dir(home, film.film.id)
    write_cut_texts(plan, film, folder)
    return folder


def test_subtitle_figures_are_located_in_the_vtt_and_given_the_scene_of_their_cue(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert check_film_figures(bundled_film_path(), home=home).figures == check_film_figures(
        bundled_film_path()).figures  # no cut yet: the storyboard's figures only
    folder = _write_cut_texts(bundled_film_path(), home)
    report = check_film_figures(bundled_film_path(), home=home)
    subs = [f for f in report.figures if f.file.endswith(".vtt")]
    storyboard = [f for f in report.figures if f.file == str(bundled_film_path())]
    # the cut's scenes say in their subtitles what their narration says: the same figures, results and facts
    assert sorted((f.scene, f.text, f.result, f.fact) for f in subs) == sorted(
        (f.scene, f.text, f.result, f.fact) for f in storyboard
        if f.scene in ("S05", "S06", "S07") and ".narration." in f.field)
    assert {f.scene for f in subs} >= {"S06"}
    assert {f.file for f in subs} == {str(folder / "subtitles.vi.vtt"), str(folder / "subtitles.en.vtt")}
    for figure in subs:
        lines = Path(figure.file).read_text(encoding="utf-8").splitlines()
        assert lines[figure.line - 1][figure.col - 1:].startswith(figure.text), figure
    per_head = next(f for f in subs if f.text == "80,48 triệu đồng")
    assert (per_head.year, per_head.fact, per_head.field) == (2018, "grdp-per-capita-2018", "subtitles.vi[1]")


def test_a_subtitle_figure_that_contradicts_is_reported_at_its_cue(tmp_path: Path) -> None:
    # the cut was rendered from a narration saying 82,15; the storyboard has since been corrected
    edited = bundled_film_copy(tmp_path / "then")
    edit_figure(edited, "GRDP bình quân đầu người ước 80,48", "80,48", "82,15")
    home = tmp_path / "home"
    folder = _write_cut_texts(edited, home)
    vtt = folder / "subtitles.vi.vtt"
    lines = vtt.read_text(encoding="utf-8").splitlines()
    line = next(i for i, text in enumerate(lines, 1) if "82,15" in text)
    col = lines[line - 1].index("82,15") + 1
    film = bundled_film_copy(tmp_path / "now")
    p = docfilm_in_process("facts", "check", "--film", str(film), "--json", env=user_env(home))
    assert p.returncode == 1, p.stderr
    bad = [f for f in json.loads(p.stdout)["figures"] if f["result"] != "sourced"]
    assert bad == [{
        "file": str(vtt), "line": line, "col": col, "text": "82,15 triệu đồng", "scene": "S06",
        "value": 82.15, "unit": "triệu đồng", "year": 2018, "result": "contradicts",
        "fact": "grdp-per-capita-2018", "expected": 80.48,
    }]
    # the scene is not ready while its cut states it: status names the cue, the packet lists it
    p = docfilm_cli("status", "--film", str(film), "--json", env=user_env(home))
    assert p.returncode == 0, p.stderr
    scenes = {s["id"]: s for s in json.loads(p.stdout)["scenes"]}
    assert scenes["S06"]["blocked_by"] == [{"file": str(vtt), "line": line, "col": col,
                                            "text": "82,15 triệu đồng", "result": "contradicts"}]
    assert scenes["S06"]["ready"] is False


def test_the_packet_lists_subtitle_figures_in_their_language(tmp_path: Path) -> None:
    from review.cards import figure_views
    from storyboard.loader import load_film

    home = tmp_path / "home"
    _write_cut_texts(bundled_film_path(), home, ("S06",))
    report = check_film_figures(bundled_film_path(), home=home)
    views = figure_views(load_film(bundled_film_path()), report.figures, date(2019, 5, 31))
    subs = {(v.where.split(":")[0], v.lang, v.text) for v in views if ".vtt:" in v.where}
    assert ("subtitles.vi.vtt", "vi", "80,48 triệu đồng") in subs
    assert ("subtitles.en.vtt", "en", "80.48 million dong") in subs
    assert {lang for name, lang, _ in subs if name == "subtitles.en.vtt"} == {"en"}


@pytest.mark.parametrize("as_of", ["2019-13-45"])
def test_bad_as_of_exits_2(tmp_path: Path, as_of: str) -> None:
    p = docfilm_in_process("facts", "check", "--as-of", as_of, env=user_env(tmp_path / "home"))
    assert p.returncode == 2 and "--as-of" in p.stderr


def test_vtt_cues_lines_and_scenes(tmp_path: Path) -> None:
    from figures.subtitles import chapter_spans, cue_position, read_cues, scene_at

    chapters = tmp_path / "chapters.vtt"
    chapters.write_text("WEBVTT\n\n1\n00:00:00.000 --> 00:00:04.000\nS01 Một / One\n\n"
                        "2\n00:00:04.000 --> 00:01:08.500\nS02 Hai / Two\n", encoding="utf-8")
    subs = tmp_path / "subtitles.vi.vtt"
    subs.write_text("WEBVTT\n\nNOTE made by hand\n\nintro\n00:00:01.000 --> 00:00:03.000\nmột dòng\n\n"
                    "00:05.000 --> 00:07.000\ndòng đầu\nđạt 36 xã\n", encoding="utf-8")
    cues = read_cues(subs)
    assert [(c.line, c.text) for c in cues] == [(7, "một dòng"), (10, "dòng đầu\nđạt 36 xã")]
    spans = chapter_spans(chapters)
    assert [scene_at(spans, c) for c in cues] == ["S01", "S02"]
    offset = cues[1].text.index("36")
    assert cue_position(cues[1], offset) == (11, 5)


# --- the fact index's choice of indicator for a contradiction -------------------------------------------------


def _fact(fact_id: str, label: str, value: str, year: int = 2018, unit: str = "%") -> Fact:
    return Fact.model_validate({"id": fact_id, "label": {"vi": label, "en": "—"}, "value": value, "unit": unit,
                                "year": year, "status": "actual", "source": {"title": "Cục Thống kê"}})


def test_a_contradiction_names_the_fact_sharing_most_words_ties_to_the_first_given() -> None:
    facts = [_fact(f"noise-{i}", f"Chỉ tiêu phụ {i} tăng trưởng", "1.5") for i in range(300)]
    facts += [
        _fact("grdp-growth", "Tốc độ tăng trưởng GRDP", "7.53"),
        _fact("grdp-growth-again", "Tăng trưởng GRDP tốc độ", "7.6"),  # the same words: a tie, given later
        _fact("export-growth", "Tốc độ tăng trưởng xuất khẩu", "9.1"),
        _fact("grdp-growth-2017", "Tốc độ tăng trưởng GRDP", "7.2", year=2017),
        _fact("grdp-value", "Tốc độ tăng trưởng GRDP", "80.48", unit="triệu đồng"),
    ]
    index = FactIndex(facts)
    [mention] = find_mentions("Tốc độ tăng trưởng GRDP đạt 8,1%.")
    # 4 shared words with the two GRDP facts (a tie: the first given wins), 3 with exports, 2 with the noise;
    # neither another year nor another unit kind is looked at
    assert index.entries[index.same_indicator(mention, 2018) or 0].fact.id == "grdp-growth"
    assert index.same_indicator(mention, None) is None
    [lone] = find_mentions("Kim ngạch GRDP đạt 8,1%.")
    assert index.same_indicator(lone, 2018) is None  # one shared word is not enough
    [two] = find_mentions("Kim ngạch xuất khẩu, tốc độ 8,1%.")
    assert index.entries[index.same_indicator(two, 2018) or 0].fact.id == "export-growth"


def test_most_shared_counts_like_a_plain_count() -> None:
    rng = random.Random(11)
    for _ in range(500):
        width, masks = rng.randint(1, 90), [rng.getrandbits(rng.randint(1, 90)) for _ in range(rng.randint(0, 12))]
        counts = [sum(mask >> bit & 1 for mask in masks) for bit in range(90)]
        best, score = _most_shared(masks)
        assert score == max(counts)
        assert best == (sum(1 << bit for bit, n in enumerate(counts) if n == score) if score else 0), width
