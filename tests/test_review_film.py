"""The packet opens on the film: a real review cut rendered from proxies whose frames number themselves, played in
Chromium from file:// and from the hosted copy on a real SeaweedFS (presigned): the whole cut plays, the chapter
menu seeks to each scene, the subtitles (vi, en) carried in the page show their cues, and the record timecode under
the playhead names the frame on screen. A note on the film resolves to its shot and source timecode (a card to its
scene only); a re-trimmed shot shows as a cut-level change; status gives the runtime per theme.
"""

from __future__ import annotations

import json
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import opentimelineio as otio
import pytest
from cut_support import make_numbered, read_picture_number
from review_ledger import LedgerClip, ledger_workspace

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

AS_OF = date(2019, 5, 20)
RATE = Fraction(25)
RECORD_START = "01:00:00:00"
# (scene, kind, asset, first source frame, frames): S01 and S02 (party building), S06 (socio-economic).
EVENTS = [
    ("S01", "title", None, 0, 10),
    ("S01", "take", "cutA", 7, 12),
    ("S02", "take", "cutB", 30, 9),
    ("S02", "slate", None, 0, 6),
    ("S06", "take", "cutA", 50, 13),
]


def timeline_of(ws: Any, events: list[tuple[str, str, str | None, int, int]]) -> otio.schema.Timeline:
    from core.timecode import Clock
    from editorial.assemble import slate, title_card
    from editorial.versions import METADATA_KEY

    film = {s.id: s for s in ws.film.scenes}
    timeline = otio.schema.Timeline(name="string-out")
    timeline.global_start_time = otio.opentime.RationalTime(Clock(RATE, RECORD_START).count(0) or 0, float(RATE))
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    for scene, kind, asset, first, frames in events:
        if kind == "title":
            track.append(title_card(film[scene], frames, RATE))
        elif kind == "slate":
            track.append(slate(scene, frames, RATE, "chưa có hình"))
        else:
            start = {"cutA": "10:00:00:00", "cutB": "11:00:00:00"}[str(asset)]
            origin = Clock(RATE, start).count(0) or 0
            clip = otio.schema.Clip(name=f"{asset}", source_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(origin + first, 25), otio.opentime.RationalTime(frames, 25)))
            clip.metadata[METADATA_KEY] = {"kind": "take", "asset_id": asset, "scene": scene}
            track.append(clip)
    return timeline


@dataclass
class Film:
    ws: Any
    home: Path
    record: Any  # review.records.CutRecord
    offline: Any  # PacketResult
    hosted_url: str


def build(ws: Any, home: Path, record: Any, hosted: Any = None) -> Any:
    from flows.review_steps import review_notes
    from flows.steps import clip_records
    from review.packet import build_packet

    return build_packet(ws.film, clip_records(ws), home / "packets", AS_OF, notes=review_notes(ws), hosted=hosted,
                        cut=record)


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory, embedded_s3: Any, review_media: tuple[Path, Path]) -> Any:
    from delivery.client import ensure_bucket
    from editorial.versions import save_cut
    from flows.cut_steps import review_cut_step
    from flows.review_steps import hosted_links, packet_cut, publish_packet

    monkeypatch = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("film")
    proxies = {}
    for asset, tone in (("cutA", 440), ("cutB", 660)):
        proxies[asset] = home / f"{asset}.mp4"
        make_numbered(proxies[asset], RATE, 64, tone)
    ws = ledger_workspace(home / "home", monkeypatch, (proxies["cutA"], review_media[1]), [
        LedgerClip("cutA", "S01", "S01-01", "Bến Ninh Kiều A.mov", "10:00:00:00", frames=64)])
    ws = ledger_workspace(home / "home", monkeypatch, (proxies["cutB"], review_media[1]), [
        LedgerClip("cutB", "S02", "S02-01", "Cầu Cần Thơ B.mov", "11:00:00:00", frames=64)])
    save_cut(timeline_of(ws, EVENTS), ws.ledger, ws.home, ws.film.film.id, "assembled")
    rendered = review_cut_step(ws)
    assert rendered.frames == sum(e[4] for e in EVENTS)
    record = packet_cut(ws)
    assert record is not None and record.path is not None, record
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    ensure_bucket(embedded_s3.client, bucket, "us-east-1")
    links = hosted_links(embedded_s3.client, bucket, ws.film.film.id, 3600)
    offline = build(ws, home, record, links)
    published = publish_packet(ws, embedded_s3.client, bucket, offline)
    assert published.failed == () and published.url
    yield Film(ws, home, record, offline, published.url)
    monkeypatch.undo()


def open_page(browser: Browser, url: str) -> tuple[Page, list[str]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(url)
    page.wait_for_selector("html[data-ready=yes]")
    return page, errors


SEEK = """async ([frame, click]) => {
  const v = document.getElementById("cut-video");
  if (v.readyState < 1) await new Promise(r => v.addEventListener("loadedmetadata", r, {once: true}));
  const seeked = new Promise(r => v.addEventListener("seeked", r, {once: true}));
  if (click) document.querySelector(`button.chapter[data-scene="${click}"]`).click();
  else v.currentTime = JSON.parse(document.getElementById("packet-data").textContent).cut.video_start +
    (frame + 0.5) / 25;
  await seeked;
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  return {tc: document.getElementById("cut-tc").textContent, where: document.getElementById("cut-where").textContent,
          time: v.currentTime};
}"""

ACTIVE = """(lang) => { const t = Array.from(document.getElementById("cut-video").textTracks)
  .find(t => t.kind === "subtitles" && t.language === lang);
  return t.mode === "showing" && t.activeCues !== null && t.activeCues.length > 0; }"""
CUES = """(lang) => {
  const v = document.getElementById("cut-video");
  const tracks = Array.from(v.textTracks).filter(t => t.kind === "subtitles");
  const track = tracks.find(t => t.language === lang);
  return {modes: Object.fromEntries(tracks.map(t => [t.language, t.mode])), cues: track.cues ? track.cues.length : 0,
          active: track.activeCues ? Array.from(track.activeCues).map(c => c.text) : []};
}"""


def expected_source(frame: int) -> tuple[str | None, int | None]:
    """(asset, source frame) under the cut's `frame` by EVENTS."""
    at = 0
    for _scene, kind, asset, first, frames in EVENTS:
        if at <= frame < at + frames:
            return (asset, first + frame - at) if kind == "take" else (None, None)
        at += frames
    raise AssertionError(frame)


@pytest.mark.parametrize("where", ["offline", "hosted"])
def test_the_film_plays_with_chapters_subtitles_and_the_record_timecode(
    chromium_browser: Browser, film: Film, where: str, tmp_path: Path
) -> None:
    url = film.offline.path.as_uri() if where == "offline" else film.hosted_url
    page, errors = open_page(chromium_browser, url)
    cut = film.record.map
    try:
        # The film comes first; the clips stay below it.
        order = page.evaluate("""() => { const all = Array.from(document.querySelectorAll("#film, figure.clip"));
            return all.map(n => n.id); }""")
        assert order[0] == "film" and len(order) > 1
        headings = page.locator("#chapters h3").all_text_contents()
        assert [h.split(" ")[0] for h in headings] == ["Xây", "Phát"] and "Party building" in headings[0]
        assert page.locator("#chapters button.chapter").count() == 3

        # Every chapter seeks to its scene's first frame.
        for scene, first, _frames in cut.scene_spans():
            state = page.evaluate(SEEK, [0, scene])
            assert state["tc"] == cut.record_timecode(first), (scene, state)
            assert state["where"].startswith(scene)

        # The record timecode under the playhead names the frame on screen (read from its stripes).
        picture = tmp_path / "frame.png"
        for frame in (10, 21, 22, 30, 31, 37, 38, 49):
            state = page.evaluate(SEEK, [frame, None])
            assert state["tc"] == cut.record_timecode(frame), (frame, state)
            asset, source = expected_source(frame)
            if asset is not None:
                page.locator("#cut-video").screenshot(path=str(picture))
                assert read_picture_number(picture) == source, (frame, state)
                start = {"cutA": 10, "cutB": 11}[asset]
                assert state["where"].endswith(f"{start}:00:{source // 25:02d}:{source % 25:02d}"), state

        # Subtitles ride in the page: Vietnamese by default, English on request.
        page.evaluate(SEEK, [40, None])  # in S06
        s06 = next(s for s in film.ws.film.scenes if s.id == "S06")
        page.wait_for_function(ACTIVE, arg="vi", polling=100)
        vi = page.evaluate(CUES, "vi")
        assert vi["modes"] == {"vi": "showing", "en": "disabled"} and vi["cues"] == 3
        assert vi["active"] == [unicodedata.normalize("NFC", s06.narration.vi.strip())]
        page.click("button.subtitle-lang[data-lang=en]")
        page.wait_for_function(ACTIVE, arg="en", polling=100)  # a track switched on loads its cues then
        en = page.evaluate(CUES, "en")
        assert en["modes"] == {"vi": "disabled", "en": "showing"} and en["active"] == [s06.narration.en.strip()]
        assert "ệ" in page.locator("#chapters").inner_text() or "ả" in page.locator("#chapters").inner_text()

        # The whole cut plays to its end.
        ended = page.evaluate("""async () => { const v = document.getElementById("cut-video");
            v.currentTime = 0; v.muted = true; v.playbackRate = 2;
            await new Promise(r => v.addEventListener("seeked", r, {once: true}));
            const done = new Promise(r => v.addEventListener("ended", r, {once: true}));
            await v.play(); await done;
            return {ended: v.ended, duration: v.duration, error: v.error && v.error.code}; }""")
        assert ended["ended"] and ended["error"] is None
        assert abs(ended["duration"] - film.record.video_start - cut.frames / 25) < 0.5 / 25
        assert errors == []
    finally:
        page.context.close()


def test_a_note_on_the_film_resolves_to_shot_and_source_timecode(
    chromium_browser: Browser, film: Film, tmp_path: Path
) -> None:
    from editorial.resolve import resolve, resolve_timecode
    from flows.review_steps import import_notes

    cut = film.record.map
    # The one function: a take gives shot, clip and source timecode; a card only its scene.
    take = resolve_timecode(cut, "01:00:01:04")  # frame 29: cutB's 8th frame
    assert take is not None and (take.scene, take.shot, take.asset_id, take.source_frame, take.source_timecode) == (
        "S02", "S02-01", "cutB", 37, "11:00:01:12")
    card = resolve(cut, 3)
    assert card is not None and (card.scene, card.kind, card.asset_id, card.shot, card.source_timecode) == (
        "S01", "card", None, None, None)

    page, errors = open_page(chromium_browser, film.offline.path.as_uri())
    try:
        page.evaluate("localStorage.clear()")
        page.reload()
        page.wait_for_selector("html[data-ready=yes]")
        for frame, text in ((29, "Cảnh cầu hơi tối <b>x</b>"), (3, "Tít phân cảnh đẹp.")):
            assert page.evaluate(SEEK, [frame, None])["tc"] == cut.record_timecode(frame)
            page.click("#film-player .note-cut")
            form = page.locator("form.note-form")
            assert form.locator(".note-target .tc").inner_text() == cut.record_timecode(frame)
            form.locator("textarea").fill(text)
            form.locator("button[type=submit]").click()
        mine = page.locator("#my-note-list").inner_text()
        assert "01:00:01:04 → S02 · S02-01 · cutB · 11:00:01:12" in mine and "<b>x</b>" in mine
        page.fill("#reviewer-name", "Trần Thị Hà")
        page.locator("#reviewer-name").dispatch_event("change")
        with page.expect_download() as info:
            page.click("#export-notes")
        saved = tmp_path / info.value.suggested_filename
        info.value.save_as(saved)
        assert errors == []
    finally:
        page.context.close()

    report = import_notes(film.ws, saved).to_json()  # notes import --json's object
    assert report["imported"] == 2
    on_film = sorted(report["on_film"], key=lambda r: r["frame"])
    assert [(r["scene"], r["shot"], r["asset_id"], r["source_timecode"], r["record_timecode"]) for r in on_film] == [
        ("S01", None, None, None, "01:00:00:03"), ("S02", "S02-01", "cutB", "11:00:01:12", "01:00:01:04")]
    # Shown again, resolved, beside the note in the next packet.
    rebuilt = build(film.ws, film.home, film.record)
    html = rebuilt.path.read_text(encoding="utf-8")
    assert "<span class=\"note-resolved\">S02-01 · Cầu Cần Thơ B.mov · 11:00:01:12</span>" in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html


def test_status_gives_the_runtime_per_theme_against_planned(film: Film) -> None:
    from rich.console import Console

    from flows.review_steps import current_cut_map, review_notes
    from flows.steps import clip_records
    from review.status import status_report, status_table

    cut = current_cut_map(film.ws)
    assert cut is not None
    report = status_report(film.ws.film, clip_records(film.ws), AS_OF, review_notes(film.ws), None, cut)
    data = report.to_json()["cut"]
    assert isinstance(data, dict)
    themes = {t["id"]: t for t in data["themes"]}
    assert themes["party-building"]["cut_frames"] == 37 and themes["socio-economic"]["cut_frames"] == 13
    assert themes["defence-security"]["cut_frames"] == 0
    planned = sum(s.planned_frames for s in film.ws.film.scenes if s.theme == "party-building")
    assert themes["party-building"]["planned_frames"] == planned
    assert data["target_frames"] == 42000 and data["over_target"] is False and data["frames"] == 50
    json.dumps(report.to_json())
    for lang in (None, "en"):
        console = Console(width=80, record=True, color_system=None)
        console.print(status_table(report, lang))
        text = console.export_text()
        assert all(len(line) <= 80 for line in text.splitlines())
        assert ("Runtime of the cut by theme" if lang == "en" else "Thời lượng bản dựng theo chủ đề") in text
        assert "28:00" in text


def test_a_retrimmed_shot_shows_as_a_cut_change_and_a_stale_cut_is_said_plainly(film: Film) -> None:
    from editorial.versions import save_cut
    from flows.review_steps import packet_cut

    build(film.ws, film.home, film.record)  # the packet the next one compares with
    retrimmed = list(EVENTS)
    retrimmed[2] = ("S02", "take", "cutB", 33, 11)
    version, new = save_cut(timeline_of(film.ws, retrimmed), film.ws.ledger, film.ws.home, film.ws.film.film.id,
                            "assembled")
    assert new
    record = packet_cut(film.ws)
    assert record is not None and record.path is None  # not rendered since
    html = build(film.ws, film.home, record).path.read_text(encoding="utf-8")
    assert 'id="no-film"' in html and "docfilm cut render" in html and "<video id=\"cut-video\"" not in html
    assert 'class="clip"' in html  # the clips as before
    section = html[html.index('id="cut-changes"'):]
    section = section[:section.index("</ul>")]
    assert 'data-change="shot-retrimmed"' in section and "cutB" in section
    assert "<span class=\"num\">+3</span>" in section and "<span class=\"num\">+2</span>" in section
    assert 'data-change="scene-retimed"' in section
    assert 'href="#scene-S02">S02</a> <span class="num">+2</span>' in section
    assert "shot-replaced" not in section and "scene-added" not in section
    assert f"v{version.version - 1} → v{version.version}" in section


def test_cut_changes_name_scenes_added_removed_retimed_and_shots_replaced() -> None:
    from editorial.resolve import CutEvent, CutMap
    from review.cut import compare_cuts, cut_snapshot

    def cut(version: int, events: list[tuple[str, str | None, int, int]]) -> CutMap:
        out, at = [], 0
        for scene, asset, src_in, frames in events:
            kind = "take" if asset else "card"
            out.append(CutEvent(at, frames, scene, kind, asset or "title", len(out) + 1, asset,
                                f"{scene}-01" if asset else None, src_in, RATE if asset else None, "10:00:00:00"))
            at += frames
        return CutMap("can-tho-xiv", version, "0" * 64, RATE, 90000, at, tuple(out))

    before = cut(1, [("S01", None, 0, 50), ("S01", "a", 0, 100), ("S02", "b", 10, 80), ("S03", "c", 0, 60)])
    after = cut(2, [("S01", None, 0, 50), ("S01", "x", 0, 100), ("S02", "b", 10, 70), ("S04", "d", 0, 40)])
    changes = compare_cuts(cut_snapshot(after), cut_snapshot(before))
    assert changes is not None and changes.since_version == 1
    assert changes.added == ("S04",) and changes.removed == ("S03",) and changes.retimed == (("S02", -10),)
    assert [(c.scene, c.before, c.name) for c in changes.replaced] == [("S01", "a", "x")]
    assert [(c.scene, c.in_delta, c.frames_delta) for c in changes.retrimmed] == [("S02", 0, -10)]
    assert changes.count == 5
    assert compare_cuts(cut_snapshot(after), None) is None
