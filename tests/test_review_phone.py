"""The packet on a phone, whatever the text: long unbroken tokens wrap instead of widening the page (real Chromium)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from review.records import ClipRecord
from storyboard.loader import load_film

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

PHONE = 390
# What a title or a name can hold with no space to break at: a pasted hash, a URL, a camera's file name.
TOKEN = "Ab0" * 20
URL = "https://example.org/" + "a-very-long-path-without-any-break" * 3
CLIP_NAME = "A001C003_190520_R2EK_" + "Q" * 60 + ".MOV"


def clip(asset_id: str, scene_id: str, media: tuple[Path, Path], name: str) -> ClipRecord:
    return ClipRecord(
        asset_id=asset_id, name=name, scene_id=scene_id, shot_id=None, kind="video", duration_frames=25,
        fps="25/1", width=1920, height=1080, rotation=0, start_timecode="10:00:00:00", sha256=asset_id * 8,
        proxy=media[0], poster=media[1], proxy_state="done", proxy_reason=None,
    )


def test_long_tokens_wrap_on_a_390px_phone(
    chromium_browser: Browser, review_media: tuple[Path, Path], tmp_path: Path
) -> None:
    from review.packet import build_packet

    film = load_film()
    first = film.scenes[0]
    title = first.title.model_copy(update={"vi": f"{first.title.vi} {TOKEN}", "en": URL})
    narration = first.narration.model_copy(update={"vi": TOKEN + TOKEN})
    film = film.model_copy(update={"scenes": [
        first.model_copy(update={"title": title, "narration": narration}), *film.scenes[1:]
    ]})
    failed = ClipRecord(**{**clip("f" * 8, first.id, review_media, CLIP_NAME).__dict__, "proxy_state": "failed",
                           "proxy": None, "proxy_reason": "decode error in " + TOKEN})
    clips = [clip("a" * 8, first.id, review_media, CLIP_NAME), failed,
             clip("b" * 8, "S99", review_media, TOKEN + ".mov")]  # unassigned, its scene id shown
    result = build_packet(film, clips, tmp_path / "packets", date(2019, 5, 20),
                          generated_at=datetime(2019, 5, 20, 8, tzinfo=UTC))
    page = chromium_browser.new_page(viewport={"width": PHONE, "height": 844})
    try:
        page.goto(result.path.as_uri())
        page.wait_for_selector("html[data-ready=yes]")
        for lang in ("vi", "en"):
            if page.evaluate("document.documentElement.getAttribute('data-lang')") != lang:
                page.click("#lang-toggle")
            # content-visibility skips far scenes: bring the long scene near so it is laid out.
            page.locator(f"#scene-{first.id}").scroll_into_view_if_needed()
            page.locator(f"#clip-{'a' * 8}").scroll_into_view_if_needed()
            assert page.locator(f"#scene-{first.id} h3").inner_text().count(TOKEN if lang == "vi" else URL) == 1
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE, f"{lang}: the page is {width} px wide on a {PHONE} px phone"
            # Nor does anything stick out of its own box to the side (a table scrolls inside its own box).
            wide = page.evaluate(
                """(limit) => Array.from(document.querySelectorAll('body *'))
                    .filter(e => e.getBoundingClientRect().right > limit + 0.5 && !e.closest('.scroll-x'))
                    .map(e => e.tagName + '.' + e.className).slice(0, 5)""",
                PHONE,
            )
            assert wide == [], f"{lang}: elements past the right edge: {wide}"
    finally:
        page.close()
