"""The packet's figures section (issue 11, item 4) in Chromium: every figure, problems first, both languages."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from figures.check import check_film_figures
from review.packet import build_packet
from storyboard.loader import bundled_film_path, load_film

AS_OF = date(2019, 5, 31)


@pytest.fixture(scope="module")
def figures_packet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("figures_packet")
    film = folder / "film.yaml"
    shutil.copy(bundled_film_path(), film)
    shutil.copytree(bundled_film_path().parent / "facts", folder / "facts")
    text = film.read_text(encoding="utf-8")
    text = text.replace("GRDP bình quân đầu người ước 80,48 triệu", "GRDP bình quân đầu người ước 82,15 triệu")
    # a 2019 estimate, published after the end of May 2019: the packet must not show its value as known
    text = text.replace("nhiệm kỳ 2020–2025.", "nhiệm kỳ 2020–2025. Năm 2019, tăng trưởng GRDP ước đạt 7,84%.")
    film.write_text(text, encoding="utf-8")
    loaded = load_film(film)
    checks = check_film_figures(film, loaded, as_of=AS_OF).figures
    return build_packet(loaded, [], folder / "packets", AS_OF, figures=checks).path


def test_figures_section_in_chromium(chromium_browser: Any, figures_packet: Path) -> None:
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(figures_packet.as_uri())
        page.wait_for_selector("html[data-ready=yes]")
        rows = page.eval_on_selector_all("#figures tr.figure", """rows => rows.map(r => ({
            lang: r.lang, result: r.dataset.result, scene: r.dataset.scene,
            mark: r.querySelector('mark').textContent, sentence: r.cells[0].textContent,
            fact: r.cells[2].textContent, href: (r.querySelector('a.source') || {}).href || null,
            cell: (r.querySelector('code.cell') || {}).textContent || null,
            visible: r.offsetParent !== null}))""")
        assert len(rows) == 29  # the bundled film's 28 (vi and en) and the 2019 one added in Vietnamese
        results = [r["result"] for r in rows]
        assert results[0] == "contradicts" and results.index("sourced") > results.index("contradicts")
        assert results == sorted(results, key=["contradicts", "unsourced", "status-mismatch", "not-yet-known",
                                              "sourced"].index)
        bad = rows[0]
        assert (bad["mark"], bad["scene"], bad["lang"]) == ("82,15 triệu đồng", "S06", "vi")
        assert "GRDP bình quân đầu người ước 82,15 triệu đồng" in bad["sentence"]
        assert "80.48" in bad["fact"] and "2018" in bad["fact"]
        assert bad["href"] == "https://en.vietnamplus.vn/can-tho-expected-to-meet-all-13-set-targets-for-2018/139288.vnp"
        assert bad["cell"] == "can-tho-figures-2019.csv!I11"
        later = next(r for r in rows if r["mark"] == "7,84%")
        assert later["result"] == "not-yet-known" and "7.84" not in later["fact"]
        sourced = next(r for r in rows if r["mark"] == "11.191 tỷ đồng")
        assert sourced["result"] == "sourced" and "11191" in sourced["fact"] and sourced["cell"].endswith("!I14")
        # Vietnamese first: the English rows are hidden until the toggle
        assert all(r["visible"] == (r["lang"] == "vi") for r in rows)
        assert page.is_visible("#figures h2 [lang=vi]") and not page.is_visible("#figures h2 [lang=en]")
        page.click("#lang-toggle")
        assert page.is_visible("#figures h2 [lang=en]")
        shown = page.eval_on_selector_all("#figures tr.figure", "rs => rs.filter(r => r.offsetParent).map(r => r.lang)")
        assert shown and set(shown) == {"en"}
        marks = page.eval_on_selector_all("#figures tr.figure[lang=en] mark", "ms => ms.map(m => m.textContent)")
        assert "US$3,490" in marks and "80.48 million dong" in marks
        assert errors == []
    finally:
        context.close()
