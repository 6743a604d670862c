"""The packet in real Chromium over file://: it renders, videos play and seek on a laptop and a phone, injected
markup is inert, notes written at a seeked frame export with the right timecode and import back."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from review_ledger import LedgerClip, ledger_workspace

from core.timecode import source_timecode
from storyboard.models import Film

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

AS_OF = date(2019, 5, 20)
THEME_TITLES = (
    "Xây dựng Đảng và hệ thống chính trị",
    "Phát triển kinh tế - xã hội",
    "Bảo đảm quốc phòng - an ninh",
)
INJECTED_TITLE = "<script>window.__pwned = 1</script>"
INJECTED_NAME = '<img src=x onerror="window.__pwned = 2">'


def play_and_seek(page: Page, asset_id: str, seconds: float) -> dict[str, Any]:
    """Open a clip's player as a reviewer does (a click), play it, pause it, seek; the video's state after."""
    card = page.locator(f"#clip-{asset_id}")
    card.scroll_into_view_if_needed()
    # Near the screen the link may already have become a player; otherwise the click makes it one.
    page.evaluate("(id) => { const a = document.querySelector(`#clip-${id} a.player`); if (a) a.click(); }",
                  asset_id)
    page.wait_for_selector(f"#clip-{asset_id} video")
    state: dict[str, Any] = page.evaluate(
        """async ([assetId, seconds]) => {
            const v = document.querySelector(`#clip-${assetId} video`);
            const wait = (type) => new Promise(done => v.addEventListener(type, done, {once: true}));
            const timeout = (ms) => new Promise(done => setTimeout(done, ms));
            v.muted = true;
            await v.play();
            await Promise.race([new Promise(done => {
                const check = () => v.currentTime > 0.1 ? done() : requestAnimationFrame(check); check();
            }), timeout(10000)]);
            const played = v.currentTime;
            v.pause();
            const seeked = wait('seeked');
            v.currentTime = seconds;
            await Promise.race([seeked, timeout(10000)]);
            await timeout(100);
            return {played, time: v.currentTime, ready: v.readyState, error: v.error && v.error.code,
                    duration: v.duration, width: v.videoWidth,
                    playhead: window.docfilmPacket.playhead(assetId)};
        }""",
        [asset_id, seconds],
    )
    assert state["played"] > 0.1, "the proxy did not play"
    return state


@dataclass
class Built:
    ws: Any
    film: Film
    result: Any
    home: Path


@pytest.fixture(scope="module")
def packet(tmp_path_factory: pytest.TempPathFactory, review_media: tuple[Path, Path]) -> Any:
    from flows.steps import clip_records
    from review.packet import build_packet

    monkeypatch = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("browser_packet")
    ws: Any = ledger_workspace(home / "home", monkeypatch, review_media, [
        LedgerClip("clip0", "S01", "S01-01", INJECTED_NAME),
        LedgerClip("clip1", "S05", None, "Cầu Cần Thơ.MOV", start_timecode="11:00:00:00"),
        LedgerClip("clip2", "S10", None, "Tuần tra.MOV"),
    ])
    bundled = ws.film
    first = bundled.scenes[0]
    title = first.title.model_copy(update={"vi": f"{first.title.vi} {INJECTED_TITLE}"})
    film = bundled.model_copy(update={"scenes": [first.model_copy(update={"title": title}), *bundled.scenes[1:]]})
    result = build_packet(film, clip_records(ws), home / "packets", AS_OF)
    yield Built(ws, film, result, home)
    monkeypatch.undo()


def open_page(browser: Browser, url: str, width: int, height: int) -> tuple[Page, list[str], list[str]]:
    """A page in a context of its own (closing the page's context closes both)."""
    context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
    page = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(url)
    page.wait_for_selector("html[data-ready=yes]")
    return page, requests, errors


@pytest.mark.parametrize("viewport", [(1280, 800), (390, 844)], ids=["laptop", "phone"])
def test_offline_packet_renders_plays_and_seeks(
    chromium_browser: Browser, packet: Built, viewport: tuple[int, int]
) -> None:
    width, height = viewport
    page, requests, errors = open_page(chromium_browser, packet.result.path.as_uri(), width, height)
    try:
        # No sideways scrolling: everything wraps into the viewport's width.
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert page.locator("h1").is_visible() and page.locator("#deadline").is_visible()
        assert "còn 11 ngày" in page.locator("#deadline").inner_text()
        headings = page.locator("section.theme h2").all_inner_texts()
        for title, heading in zip(THEME_TITLES, headings, strict=True):
            assert title in heading
        assert page.locator("article.scene").count() == len(packet.film.scenes)

        # Injected markup shows as text and never runs.
        assert page.evaluate("typeof window.__pwned") == "undefined"
        # (textContent: scenes away from the screen are not rendered, so they have no innerText yet)
        assert INJECTED_TITLE in (page.locator(f"#scene-{packet.film.scenes[0].id} h3").text_content() or "")
        assert page.locator(f"#scene-{packet.film.scenes[0].id} h3 script").count() == 0
        assert page.get_by_text(INJECTED_NAME).count() == 1

        # Lazy: no proxy is fetched before a reviewer asks for it.
        assert not [u for u in requests if u.endswith(".mp4")]
        state = play_and_seek(page, "clip1", 0.6)
        assert state["error"] is None and state["ready"] >= 2 and state["width"] == 320
        assert abs(state["duration"] - 1.0) < 0.1 and abs(state["time"] - 0.6) < 0.05
        assert state["playhead"] == {"frame": 15, "timecode": "11:00:00:15", "fps": "25/1"}
        assert page.locator("#clip-clip1 .tc-now").inner_text() == "11:00:00:15"
        assert page.locator("#clip-clip1 video").get_attribute("poster")
        assert all(url.startswith("file://") for url in requests), "the packet must not touch the network"
        assert errors == []
    finally:
        page.context.close()


def test_language_toggle_and_print_layout(chromium_browser: Browser, packet: Built) -> None:
    page, _, errors = open_page(chromium_browser, packet.result.path.as_uri(), 1280, 800)
    try:
        heading = page.locator("#summary h2")
        assert heading.inner_text() == "Tổng quan"
        page.click("#lang-toggle")
        assert page.evaluate("document.documentElement.dataset.lang") == "en"
        assert heading.inner_text().strip() == "Overview"
        # The toggle stores the choice at once in the page's own storage.
        assert page.evaluate("JSON.parse(localStorage.getItem('docfilm-lang'))") == "en"
        # Chromium hands that write to the browser's store a moment later (longer on a loaded machine). Each fresh
        # page of the same profile reads the browser's store afresh; once one sees the choice, a reload must show it.
        # (Fresh pages and a plain read: a page's cached copy, or requestAnimationFrame polling in a page that is
        # not drawn, could miss it for good.)
        seen, deadline = None, time.monotonic() + 60
        while seen != "en" and time.monotonic() < deadline:
            witness = page.context.new_page()
            witness.goto(packet.result.path.as_uri())
            seen = witness.evaluate("JSON.parse(localStorage.getItem('docfilm-lang'))")
            witness.close()
            if seen != "en":
                time.sleep(0.2)
        assert seen == "en", "the language choice never reached the browser's store"
        page.reload()
        page.wait_for_selector("html[data-ready=yes]")
        assert page.locator("#summary h2").inner_text().strip() == "Overview", "the choice is remembered"
        page.click("#lang-toggle")

        page.emulate_media(media="print")
        assert not page.locator("figure.clip a.player").first.is_visible()
        assert not page.locator("#toolbar").is_visible()
        assert page.locator("#deadline").is_visible() and page.locator("#theme-status").is_visible()
        assert page.locator("table.facts").first.is_visible() and page.locator(".notes h4").first.is_visible()
        pdf = page.pdf(format="A4")
        pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
        assert 1 < pages < 40
        assert errors == []
    finally:
        page.context.close()


def test_timecode_and_digest_match_python(chromium_browser: Browser, packet: Built) -> None:
    import hashlib

    from review.notes import canonical_json

    page, _, _ = open_page(chromium_browser, packet.result.path.as_uri(), 800, 600)
    try:
        cases = [("25/1", "10:00:00:00"), ("30000/1001", "00:58:59;20"), ("30000/1001", "01:00:00:00"),
                 ("60000/1001", "00:09:59;50"), ("50/1", "23:59:59:40"), ("24000/1001", "00:00:00:00")]
        frames = list(range(0, 40000, 331))
        for fps, start in cases:
            got = page.evaluate(
                "([fps, start, frames]) => frames.map(f => window.docfilmPacket.framesToTimecode(f, fps, start))",
                [fps, start, frames],
            )
            assert got == [source_timecode(start, f, fps) for f in frames], (fps, start)
        samples = ["", "abc", "Cần Thơ " * 40, "\u1ea0\U0001f600\n\"x\"\\"]
        doc = {"z": samples, "a": {"n": None, "i": 15, "t": "Đồng ý\u2028"}}
        js = page.evaluate("(doc) => [window.docfilmPacket.canonicalJson(doc), "
                           "window.docfilmPacket.sha256Hex(window.docfilmPacket.canonicalJson(doc))]", doc)
        assert js[0].encode("utf-8") == canonical_json(doc)
        assert js[1] == hashlib.sha256(canonical_json(doc)).hexdigest()
    finally:
        page.context.close()


def test_note_at_a_seeked_frame_exports_and_imports_back(
    chromium_browser: Browser, packet: Built, tmp_path: Path
) -> None:
    from flows.review_steps import import_notes, review_notes
    from flows.steps import clip_records
    from review.notes import check_notes, read_notes_file
    from review.packet import build_packet

    page, _, errors = open_page(chromium_browser, packet.result.path.as_uri(), 390, 844)
    try:
        page.evaluate("localStorage.clear()")
        page.reload()
        page.wait_for_selector("html[data-ready=yes]")
        assert play_and_seek(page, "clip0", 0.6)["playhead"]["timecode"] == "10:00:00:15"
        page.click("#clip-clip0 .note-clip")
        form = page.locator("form.note-form")
        assert form.locator(".note-target .tc").inner_text() == "10:00:00:15"
        form.locator("textarea").fill("Cắt bớt 2 giây <script>window.__pwned = 3</script>")
        form.locator("input[value=changes-requested]").check()
        form.locator("button[type=submit]").click()
        page.locator(f"#scene-{packet.film.scenes[4].id} .note-scene").click()
        page.locator("form.note-form textarea").fill("Đồng ý phân cảnh.")
        page.locator("form.note-form input[value=approve]").check()
        page.locator("form.note-form button[type=submit]").click()
        assert page.locator("#notes-count").inner_text() == "2"
        assert page.evaluate("typeof window.__pwned") == "undefined"
        local = page.locator("#scene-S01 .note-list.local").text_content() or ""
        assert "<script>window.__pwned = 3</script>" in local

        page.fill("#reviewer-name", "Nguyễn Văn Bình")
        page.locator("#reviewer-name").dispatch_event("change")
        with page.expect_download() as info:
            page.click("#export-notes")
        download = info.value
        assert re.fullmatch(r"notes_nguyen-van-binh_\d{4}-\d{2}-\d{2}\.json", download.suggested_filename)
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        assert errors == []
    finally:
        page.context.close()

    parsed, sha = read_notes_file(saved)
    assert parsed.film == "can-tho-xiv" and parsed.packet_id == packet.result.packet_id
    assert parsed.manifest_sha256 == packet.result.manifest_sha256
    notes = check_notes(parsed, packet.ws.film, clip_records(packet.ws), saved.name, sha)
    clip_note = next(n for n in notes if n.asset_id == "clip0")
    assert (clip_note.scene_id, clip_note.frame, clip_note.timecode, clip_note.verdict) == (
        "S01", 15, "10:00:00:15", "changes-requested")
    assert clip_note.reviewer == "Nguyễn Văn Bình"

    imported = import_notes(packet.ws, saved)
    assert imported.imported == 2 and import_notes(packet.ws, saved).imported == 0
    tampered = json.loads(saved.read_text(encoding="utf-8"))
    tampered["notes"][0]["timecode"] = "10:00:00:16"
    bad = tmp_path / "notes_tampered.json"
    bad.write_text(json.dumps(tampered, ensure_ascii=False), encoding="utf-8")
    from review.errors import NotesTampered

    with pytest.raises(NotesTampered):
        import_notes(packet.ws, bad)

    # The next packet shows them per scene with the review state; the browser drops its copies.
    again = build_packet(packet.film, clip_records(packet.ws), packet.home / "packets", AS_OF,
                         notes=review_notes(packet.ws))
    page, _, errors = open_page(chromium_browser, again.path.as_uri(), 1280, 800)
    try:
        assert page.locator("#scene-S01").get_attribute("data-review") == "changes-requested"
        received = page.locator("#scene-S01 .note-list.received").text_content() or ""
        assert "Nguyễn Văn Bình" in received and "10:00:00:15" in received and "<script>" in received
        assert page.locator(f"#scene-{packet.film.scenes[4].id}").get_attribute("data-review") == "approved"
        assert page.locator("#notes-count").inner_text() == "0"
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert errors == []
    finally:
        page.context.close()
