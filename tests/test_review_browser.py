"""The packet in real Chromium over file://: it renders, every video loads and seeks, injection is inert."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from review.packet import PacketResult, build_packet
from review.records import ClipRecord
from storyboard.loader import load_film
from storyboard.models import Film

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

THEME_TITLES = (
    "Xây dựng Đảng và hệ thống chính trị",
    "Phát triển kinh tế - xã hội",
    "Bảo đảm quốc phòng - an ninh",
)
INJECTED_TITLE = "<script>window.__pwned = 1</script>"
INJECTED_NAME = '<img src=x onerror="window.__pwned = 2">'


def _clip(
    asset_id: str, scene_id: str | None, shot_id: str | None, media: tuple[Path, Path], name: str
) -> ClipRecord:
    return ClipRecord(
        asset_id=asset_id,
        name=name,
        scene_id=scene_id,
        shot_id=shot_id,
        kind="video",
        duration_frames=25,
        fps="25/1",
        width=320,
        height=180,
        rotation=0,
        start_timecode="01:00:00:00",
        sha256=asset_id.ljust(64, "0"),
        proxy=media[0],
        poster=media[1],
        proxy_state="done",
        proxy_reason=None,
    )


@pytest.fixture(scope="module")
def packet(
    tmp_path_factory: pytest.TempPathFactory, review_media: tuple[Path, Path]
) -> tuple[Film, PacketResult]:
    bundled = load_film()
    first = bundled.scenes[0]
    title = first.title.model_copy(update={"vi": f"{first.title.vi} {INJECTED_TITLE}"})
    film = bundled.model_copy(
        update={"scenes": [first.model_copy(update={"title": title}), *bundled.scenes[1:]]}
    )
    clips = [
        _clip(
            f"clip{n}",
            scene.id,
            scene.shots[0].id if scene.shots else None,
            review_media,
            INJECTED_NAME if n == 0 else f"Clip {n}.MOV",
        )
        for n, scene in enumerate(film.scenes_of(theme.id)[0] for theme in film.themes)
    ]
    out = tmp_path_factory.mktemp("browser_packet")
    return film, build_packet(
        film, clips, out, date(2019, 5, 20), generated_at=datetime(2019, 5, 20, tzinfo=UTC)
    )


def test_packet_renders_plays_and_seeks(chromium_browser: Browser, packet: tuple[Film, PacketResult]) -> None:
    film, result = packet
    page = chromium_browser.new_page(viewport={"width": 1280, "height": 800})
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    try:
        page.goto(result.path.as_uri())
        headings = page.locator("section.theme h2").all_inner_texts()
        for title, heading in zip(THEME_TITLES, headings, strict=True):
            assert title in heading
        for scene in film.scenes:
            article = page.locator(f"#scene-{scene.id}")
            assert article.count() == 1
            assert scene.id in article.locator("h3").inner_text()
        assert page.locator("article.scene").count() == len(film.scenes)

        # Injected markup shows as text and never runs.
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert INJECTED_TITLE in page.locator(f"#scene-{film.scenes[0].id} h3").inner_text()
        assert page.get_by_text(INJECTED_NAME).count() == 1

        videos = page.locator("video")
        assert videos.count() == 3
        page.wait_for_function(
            "() => [...document.querySelectorAll('video')].every(v => v.readyState >= 2 || v.error)",
            timeout=15_000,
        )
        states = page.evaluate(
            """async () => {
                const out = [];
                for (const v of document.querySelectorAll('video')) {
                    const ready = v.readyState;
                    const seeked = new Promise(done => v.addEventListener('seeked', done, {once: true}));
                    v.currentTime = 0.6;
                    await Promise.race([seeked, new Promise(done => setTimeout(done, 10000))]);
                    out.push({ready, error: v.error && v.error.code, time: v.currentTime,
                              duration: v.duration, width: v.videoWidth, after: v.readyState});
                }
                return out;
            }"""
        )
        for state in states:
            assert state["error"] is None
            assert state["ready"] >= 2 and state["after"] >= 2
            assert state["width"] == 320
            assert abs(state["duration"] - 1.0) < 0.1
            assert abs(state["time"] - 0.6) < 0.05
        assert all(url.startswith("file://") for url in requests), "the packet must not touch the network"
    finally:
        page.close()


def test_packet_fits_a_phone_screen(chromium_browser: Browser, packet: tuple[Film, PacketResult]) -> None:
    _, result = packet
    page = chromium_browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    try:
        page.goto(result.path.as_uri())
        # No sideways scrolling on a phone: everything wraps into the 390 px width.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert page.locator("h1").is_visible()
    finally:
        page.close()
