"""The hosted packet on a real SeaweedFS: verified objects, presigned links that expire, no secrets, and the
page playing over S3 in Chromium."""

from __future__ import annotations

import hashlib
import html as htmlmod
import re
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from review_ledger import LedgerClip, ledger_workspace

if TYPE_CHECKING:
    from playwright.sync_api import Browser

    from flows.results import PublishedPacket

AS_OF = date(2019, 5, 20)


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310  (our own loopback S3)
        return bytes(response.read())


@dataclass
class Hosted:
    ws: Any
    result: Any
    published: PublishedPacket
    bucket: str
    client: Any
    secret_key: str


@pytest.fixture(scope="module")
def hosted(
    tmp_path_factory: pytest.TempPathFactory, embedded_s3: Any, review_media: tuple[Path, Path]
) -> Any:
    from delivery.client import ensure_bucket
    from flows.review_steps import hosted_links, publish_packet, review_notes
    from flows.steps import clip_records
    from review.packet import build_packet

    monkeypatch = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("hosted")
    ws = ledger_workspace(home / "home", monkeypatch, review_media, [
        LedgerClip("h1", "S01", "S01-01", "Bến Ninh Kiều.MOV"),
        LedgerClip("h2", "S05", None, "Cầu Cần Thơ.MOV", start_timecode="11:00:00:00"),
    ])
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    ensure_bucket(embedded_s3.client, bucket, "us-east-1")
    links = hosted_links(embedded_s3.client, bucket, "can-tho-xiv", 3600)
    result = build_packet(ws.film, clip_records(ws), home / "packets", AS_OF, notes=review_notes(ws), hosted=links)
    published = publish_packet(ws, embedded_s3.client, bucket, result)
    yield Hosted(ws, result, published, bucket, embedded_s3.client, embedded_s3.secret_key)
    monkeypatch.undo()


def test_every_object_holds_the_manifests_bytes(hosted: Hosted) -> None:
    result, published = hosted.result, hosted.published
    assert published.failed == () and published.url
    media = result.media_files()
    keys = {f"packets/can-tho-xiv/{name}": sha for name, (_size, sha) in media.items()}
    keys["packets/can-tho-xiv/index.html"] = hashlib.sha256(result.hosted_index.read_bytes()).hexdigest()
    assert {u.key for u in published.uploaded} == set(keys)
    rows = {row.key: row for row in hosted.ws.ledger.uploads() if row.bucket == hosted.bucket}
    assert set(rows) == set(keys)
    for key, sha in keys.items():
        body = hosted.client.get_object(Bucket=hosted.bucket, Key=key)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == sha == rows[key].sha256 and rows[key].role == "packet"
    head = hosted.client.head_object(Bucket=hosted.bucket, Key="packets/can-tho-xiv/index.html")
    assert head["ContentType"].startswith("text/html")
    # Each media object carries the type a browser needs to play or show it from its presigned URL.
    expected = {".mp4": "video/mp4", ".jpg": "image/jpeg"}
    typed = [key for key in keys if key[key.rindex("."):] in expected]
    assert {key[key.rindex("."):] for key in typed} == set(expected)
    for key in typed:
        assert hosted.client.head_object(Bucket=hosted.bucket, Key=key)["ContentType"] == expected[key[-4:]], key


def test_presigned_links_fetch_exactly_the_bytes(hosted: Hosted) -> None:
    page = fetch(hosted.published.url)
    assert page == hosted.result.hosted_index.read_bytes()
    text = page.decode("utf-8")
    media = hosted.result.media_files()
    links = [htmlmod.unescape(u) for u in re.findall(r'(?:src|data-poster)="([^"]+)"', text)]
    assert links and all("X-Amz-Signature=" in u and "X-Amz-Algorithm=AWS4-HMAC-SHA256" in u for u in links)
    for link in links:
        name = "media/" + link.split("/media/", 1)[1].split("?", 1)[0]
        assert hashlib.sha256(fetch(link)).hexdigest() == media[name][1]


def test_expiry_is_printed_and_no_secret_is_anywhere(hosted: Hosted) -> None:
    text = hosted.result.hosted_index.read_text(encoding="utf-8")
    assert 'id="expiry"' in text and "Liên kết xem trực tuyến hết hạn lúc" in text and "(Vietnam time, UTC+7)" in text
    assert hosted.result.hosted_expires.isoformat() in text
    csp = htmlmod.unescape(re.search(r'Content-Security-Policy" content="([^"]+)"', text).group(1))  # type: ignore[union-attr]
    origin = re.match(r"https?://[^/]+", hosted.published.url).group(0)  # type: ignore[union-attr]
    assert f"media-src 'self' data: {origin}" in csp and "connect-src" not in csp
    secret = hosted.secret_key
    offline = [p for p in hosted.result.folder.rglob("*") if p.is_file()] + [hosted.result.zip]
    for path in [hosted.result.hosted_index, *offline]:
        assert secret.encode() not in path.read_bytes(), path
    offline_html = hosted.result.path.read_text(encoding="utf-8")
    assert "X-Amz-" not in offline_html and "http://127.0.0.1" not in offline_html
    assert 'id="expiry"' not in offline_html
    for page in (text, offline_html):
        assert "<!--docfilm:" not in page and "<!--url:" not in page and "<!--csp-->" not in page
    assert "This packet works offline" in offline_html and "This packet works offline" not in text


def test_second_publish_sends_nothing(hosted: Hosted) -> None:
    from flows.review_steps import publish_packet

    again = publish_packet(hosted.ws, hosted.client, hosted.bucket, hosted.result)
    assert again.uploaded == () and again.skipped == len(hosted.result.media_files()) + 1


def test_presigned_link_is_refused_after_expiry(hosted: Hosted, monkeypatch: pytest.MonkeyPatch) -> None:
    from delivery.upload import presign_get

    key = "packets/can-tho-xiv/index.html"
    # Signed with the signer's clock ten minutes back, instead of waiting for a link to run out.
    signed_at = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=10)
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda *_, **__: signed_at)
    living = presign_get(hosted.client, hosted.bucket, key, 15 * 60)
    expired = presign_get(hosted.client, hosted.bucket, key, 5 * 60)
    monkeypatch.undo()
    assert fetch(living) == hosted.result.hosted_index.read_bytes()
    with pytest.raises(urllib.error.HTTPError) as refused:
        fetch(expired)
    assert refused.value.code == 403
    assert b"expired" in refused.value.read().lower()  # refused for its age, not for a bad signature


@pytest.mark.browser
@pytest.mark.parametrize("viewport", [(1280, 800), (390, 844)], ids=["laptop", "phone"])
def test_hosted_packet_plays_and_seeks_over_s3(
    chromium_browser: Browser, hosted: Hosted, viewport: tuple[int, int]
) -> None:
    from test_review_browser import play_and_seek

    width, height = viewport
    page = chromium_browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    try:
        page.goto(hosted.published.url)
        page.wait_for_selector("html[data-ready=yes]")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert "Liên kết xem trực tuyến hết hạn lúc" in page.locator("#expiry").inner_text()
        state = play_and_seek(page, "h1", 0.6)
        assert state["error"] is None and abs(state["time"] - 0.6) < 0.05 and state["width"] == 320
        assert state["playhead"]["timecode"] == "10:00:00:15"
        assert errors == []
    finally:
        page.close()
